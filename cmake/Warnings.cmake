# Strict warnings on our own targets only (never on third-party code). missing-field-initializers
# is off: GCC 12 fires it for designated initializers that leave defaulted fields out, which is
# exactly how options structs are meant to grow (add a field, callers keep compiling).
function(chatterd_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
      -Wno-missing-field-initializers -Wnon-virtual-dtor -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough>)
  if(CHATTERD_FATAL_WARNINGS)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()
