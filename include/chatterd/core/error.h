#pragma once
// Typed exceptions for engine code. The serving layer maps each kind to a status once, at its edge.

#include <stdexcept>
#include <string>

namespace chatterd {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InvalidArgument : public Error {
 public:
  using Error::Error;
};

class ShapeError : public Error {
 public:
  using Error::Error;
};

class DTypeError : public Error {
 public:
  using Error::Error;
};

// A device/dtype combination or model feature we do not implement: never a silent fallback.
class Unsupported : public Error {
 public:
  using Error::Error;
};

// A model, weight or audio file that is missing, truncated, corrupt or not what the variant
// expects.
class ModelFormatError : public Error {
 public:
  using Error::Error;
};

class IoError : public Error {
 public:
  using Error::Error;
};

// Temporarily out of capacity (a full queue, a stopping loop): retry later. Servers answer 429/503.
class Unavailable : public Error {
 public:
  using Error::Error;
};

// A broken internal invariant: a bug in chatterd, not in the caller's input.
class Internal : public Error {
 public:
  using Error::Error;
};

}  // namespace chatterd
