// Reading GPT-2 tokenizer files (vocab.json + merges.txt + HF side files, or HF tokenizer.json).

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/check.h"
#include "text/gpt2_tokenizer.h"

namespace chatterd::text {

namespace {

using nlohmann::json;

// transformers' GPT2Tokenizer defaults bos/eos/unk to this token.
constexpr std::string_view kEndOfText = "<|endoftext|>";

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  CHATTERD_CHECK(in.good(), IoError, "cannot open tokenizer file {}", path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  CHATTERD_CHECK(!in.bad(), IoError, "cannot read tokenizer file {}", path.string());
  return std::move(ss).str();
}

json parse_json_file(const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    // nlohmann's message names the line and column.
    CHATTERD_THROW(ModelFormatError, "{}: invalid JSON: {}", path.string(), e.what());
  }
}

std::int32_t json_to_id(const json& v, const std::filesystem::path& path, std::string_view what) {
  CHATTERD_CHECK(v.is_number_integer(), ModelFormatError, "{}: id of {} is not an integer: {}",
                 path.string(), what, v.dump());
  const auto id = v.get<std::int64_t>();
  CHATTERD_CHECK(id >= 0 && id < (std::int64_t{1} << 31), ModelFormatError,
                 "{}: id of {} out of range: {}", path.string(), what, id);
  return static_cast<std::int32_t>(id);
}

std::unordered_map<std::string, std::int32_t> read_vocab_json(const std::filesystem::path& path,
                                                              const json& obj) {
  CHATTERD_CHECK(obj.is_object(), ModelFormatError,
                 "{}: vocabulary must be a JSON object of token -> id", path.string());
  std::unordered_map<std::string, std::int32_t> vocab;
  vocab.reserve(obj.size());
  for (const auto& [tok, id] : obj.items())
    vocab.emplace(tok, json_to_id(id, path, fmt::format("token '{}'", tok)));
  CHATTERD_CHECK(!vocab.empty(), ModelFormatError, "{}: vocabulary is empty", path.string());
  return vocab;
}

std::vector<std::pair<std::string, std::string>> read_merges_txt(
    const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  std::vector<std::pair<std::string, std::string>> merges;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    const std::size_t space = line.find(' ');
    CHATTERD_CHECK(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
                       line.find(' ', space + 1) == std::string_view::npos,
                   ModelFormatError, "{}:{}: expected two symbols separated by one space, got '{}'",
                   path.string(), line_no, line);
    merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
  }
  CHATTERD_CHECK(!merges.empty(), ModelFormatError, "{}: no merges", path.string());
  return merges;
}

// A special-token attribute: "tok" or {"content": "tok", ...}.
void collect_special(const json& v, std::set<std::string>& out) {
  if (v.is_string()) {
    out.insert(v.get<std::string>());
  } else if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    out.insert(v["content"].get<std::string>());
  } else if (v.is_array()) {
    for (const json& e : v) collect_special(e, out);
  }
}

// lstrip/rstrip/single_word change how text around a token is split; the Turbo files set none of
// them, and silently ignoring one would change ids, so refuse.
void check_plain_added_token(const json& t, const std::filesystem::path& path,
                             const std::string& content) {
  for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
    CHATTERD_CHECK(!(t.contains(flag) && t[flag].is_boolean() && t[flag].get<bool>()), Unsupported,
                   "{}: added token '{}' sets {}=true, which is not implemented", path.string(),
                   content, flag);
  }
}

void add_token(std::vector<AddedToken>& tokens, AddedToken t, const std::filesystem::path& path) {
  for (const AddedToken& existing : tokens) {
    if (existing.content == t.content) {
      CHATTERD_CHECK(existing.id == t.id, ModelFormatError,
                     "{}: added token '{}' has id {} but elsewhere {}", path.string(), t.content,
                     t.id, existing.id);
      return;
    }
  }
  tokens.push_back(std::move(t));
}

}  // namespace

Gpt2TokenizerFiles read_gpt2_vocab_merges(const std::filesystem::path& vocab_json,
                                          const std::filesystem::path& merges_txt) {
  Gpt2TokenizerFiles files;
  files.vocab = read_vocab_json(vocab_json, parse_json_file(vocab_json));
  files.merges = read_merges_txt(merges_txt);
  return files;
}

Gpt2TokenizerFiles read_hf_tokenizer_json(const std::filesystem::path& path) {
  const json root = parse_json_file(path);
  CHATTERD_CHECK(root.is_object() && root.contains("model") && root["model"].is_object(),
                 ModelFormatError, "{}: no 'model' object", path.string());
  const json& model = root["model"];
  if (model.contains("type")) {
    CHATTERD_CHECK(model["type"] == "BPE", ModelFormatError,
                   "{}: model.type is {}, expected \"BPE\"", path.string(), model["type"].dump());
  }
  Gpt2TokenizerFiles files;
  CHATTERD_CHECK(model.contains("vocab"), ModelFormatError, "{}: no model.vocab", path.string());
  files.vocab = read_vocab_json(path, model["vocab"]);
  CHATTERD_CHECK(model.contains("merges") && model["merges"].is_array(), ModelFormatError,
                 "{}: model.merges must be an array", path.string());
  std::size_t i = 0;
  for (const json& m : model["merges"]) {
    if (m.is_string()) {  // "a b" (tokenizers < 0.20)
      const std::string s = m.get<std::string>();
      const std::size_t space = s.find(' ');
      CHATTERD_CHECK(space != std::string::npos && space > 0 && space + 1 < s.size() &&
                         s.find(' ', space + 1) == std::string::npos,
                     ModelFormatError, "{}: model.merges[{}] = '{}' is not two symbols",
                     path.string(), i, s);
      files.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else {  // ["a", "b"]
      CHATTERD_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(),
                     ModelFormatError, "{}: model.merges[{}] is not a pair of strings: {}",
                     path.string(), i, m.dump());
      files.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    }
    ++i;
  }
  if (root.contains("added_tokens") && root["added_tokens"].is_array()) {
    for (const json& t : root["added_tokens"]) {
      CHATTERD_CHECK(
          t.is_object() && t.contains("content") && t["content"].is_string() && t.contains("id"),
          ModelFormatError, "{}: malformed added_tokens entry {}", path.string(), t.dump());
      const std::string content = t["content"].get<std::string>();
      check_plain_added_token(t, path, content);
      add_token(files.added_tokens,
                {content, json_to_id(t["id"], path, fmt::format("added token '{}'", content)),
                 t.value("special", false)},
                path);
    }
  }
  // tokenizers' decoders do no clean-up unless the config asks; the JSON has no such field.
  files.clean_up_tokenization_spaces = false;
  return files;
}

Gpt2TokenizerFiles read_gpt2_tokenizer_dir(const std::filesystem::path& dir) {
  CHATTERD_CHECK(std::filesystem::is_directory(dir), IoError,
                 "tokenizer directory {} does not exist", dir.string());
  const auto vocab_path = dir / "vocab.json";
  const auto merges_path = dir / "merges.txt";
  const auto tokenizer_json = dir / "tokenizer.json";
  if (!std::filesystem::exists(vocab_path) && std::filesystem::exists(tokenizer_json)) {
    return read_hf_tokenizer_json(tokenizer_json);
  }
  Gpt2TokenizerFiles files = read_gpt2_vocab_merges(vocab_path, merges_path);

  std::set<std::string> special{std::string(kEndOfText)};
  const auto special_map = dir / "special_tokens_map.json";
  if (std::filesystem::exists(special_map)) {
    const json j = parse_json_file(special_map);
    CHATTERD_CHECK(j.is_object(), ModelFormatError, "{}: expected a JSON object",
                   special_map.string());
    for (const auto& [key, v] : j.items()) collect_special(v, special);
  }

  std::vector<AddedToken> added;
  const auto config_path = dir / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    const json cfg = parse_json_file(config_path);
    CHATTERD_CHECK(cfg.is_object(), ModelFormatError, "{}: expected a JSON object",
                   config_path.string());
    for (const char* key :
         {"bos_token", "eos_token", "unk_token", "pad_token", "additional_special_tokens"}) {
      if (cfg.contains(key)) collect_special(cfg[key], special);
    }
    if (cfg.contains("clean_up_tokenization_spaces") &&
        cfg["clean_up_tokenization_spaces"].is_boolean()) {
      files.clean_up_tokenization_spaces = cfg["clean_up_tokenization_spaces"].get<bool>();
    }
    // HF writes a huge float (1e30) for "no limit".
    if (cfg.contains("model_max_length") && cfg["model_max_length"].is_number_integer()) {
      const auto n = cfg["model_max_length"].get<std::int64_t>();
      if (n > 0) files.model_max_length = static_cast<std::size_t>(n);
    }
    if (cfg.contains("added_tokens_decoder")) {
      const json& dec = cfg["added_tokens_decoder"];
      CHATTERD_CHECK(dec.is_object(), ModelFormatError,
                     "{}: added_tokens_decoder must be an object", config_path.string());
      for (const auto& [id_str, t] : dec.items()) {
        CHATTERD_CHECK(t.is_object() && t.contains("content") && t["content"].is_string(),
                       ModelFormatError, "{}: added_tokens_decoder[\"{}\"] has no content",
                       config_path.string(), id_str);
        std::int64_t id = -1;
        try {
          std::size_t used = 0;
          id = std::stoll(id_str, &used);
          if (used != id_str.size()) id = -1;
        } catch (const std::exception&) {
          id = -1;
        }
        CHATTERD_CHECK(id >= 0 && id < (std::int64_t{1} << 31), ModelFormatError,
                       "{}: added_tokens_decoder key '{}' is not a token id", config_path.string(),
                       id_str);
        check_plain_added_token(t, config_path, t["content"].get<std::string>());
        add_token(added, {t["content"].get<std::string>(), static_cast<std::int32_t>(id), false},
                  config_path);
      }
    }
  }

  const auto added_path = dir / "added_tokens.json";
  if (std::filesystem::exists(added_path)) {
    const json j = parse_json_file(added_path);
    CHATTERD_CHECK(j.is_object(), ModelFormatError, "{}: expected a JSON object of token -> id",
                   added_path.string());
    for (const auto& [content, id] : j.items()) {
      add_token(
          added,
          {content, json_to_id(id, added_path, fmt::format("added token '{}'", content)), false},
          added_path);
    }
  }

  // Special-token attributes are added tokens too (the slow tokenizer splits them out of text).
  for (const std::string& s : special) {
    if (const auto it = files.vocab.find(s); it != files.vocab.end())
      add_token(added, {s, it->second, true}, dir);
  }
  for (AddedToken& t : added) t.special = special.count(t.content) > 0;
  files.added_tokens = std::move(added);
  return files;
}

}  // namespace chatterd::text
