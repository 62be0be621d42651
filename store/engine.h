// store/engine.h - which SQL engine holds the catalog: the name the role
// interfaces, metrics and messages use, without the driver (sql.h).
#pragma once

#include <string_view>

namespace attachgate::store {

enum class Engine { sqlite, postgres };
std::string_view to_string(Engine engine);  // "sqlite", "postgresql"

}  // namespace attachgate::store
