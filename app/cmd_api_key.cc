// app/cmd_api_key.cc - `attachgate api-key`: makes a key for the API for
// programs and prints it once, with the line for [api] keys. attachgate
// keeps only the key's SHA-256 (in the config), so a lost key is replaced,
// not recovered. `--hash` prints the line for a key read from stdin.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/render.h"
#include "store/secrets.h"
#include "web/api.h"

namespace attachgate::app {

Runner add_api_key_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand(
      "api-key",
      "Make a new key for the API (/api/v1/files) and print it once, with the\n"
      "line to add to [api] keys in conf/attachgate.toml (only its hash is kept).\n"
      "Restart attachgate after changing the keys.");
  auto hash_only = std::make_shared<bool>(false);
  sub->add_flag("--hash", *hash_only, "Read an existing key from stdin and print its [api] keys entry");
  return [&options, hash_only] {
    store::init_sodium();
    std::string key;
    if (*hash_only) {
      std::getline(std::cin, key);
      while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
      if (key.empty()) {
        std::cerr << "attachgate: api-key --hash reads a key on stdin, and none came\n";
        return 2;
      }
    } else {
      key = "ag_" + store::new_token();
    }
    const std::string hash = web::api_key_hash(key);
    if (options.json) {
      nlohmann::json j{{"hash", hash}};
      if (!*hash_only) j["key"] = key;
      std::cout << json_text(j);
      return 0;
    }
    if (!*hash_only)
      std::cout << "New API key (shown only now; give it to the program, keep it secret):\n  "
                << key << "\n\n";
    std::cout << "Add its hash to [api] keys in conf/attachgate.toml, then restart attachgate:\n"
              << "  keys = [\"" << hash << "\"]\n"
              << "Programs send the key in the X-API-Key header.\n";
    return 0;
  };
}

}  // namespace attachgate::app
