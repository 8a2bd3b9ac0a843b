// gateway_openapi FILE: writes the gateway's OpenAPI document (the one it
// serves at /openapi.json) for the docs; run at build time.
#include <fstream>
#include <iostream>

#include "gateway/openapi.h"
#include "gateway/routes.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: gateway_openapi FILE\n";
    return 2;
  }
  auto routes = govreport::gateway::BuildRoutes();
  if (!routes.ok()) {
    std::cerr << routes.status() << "\n";
    return 1;
  }
  std::ofstream out(argv[1]);
  out << govreport::gateway::OpenApiJson(*routes) << "\n";
  return out ? 0 : 1;
}
