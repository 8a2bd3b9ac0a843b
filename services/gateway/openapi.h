// The OpenAPI 3 document of the gateway's routes, from the same
// descriptors the gateway routes by: one source of truth, served at
// GET /openapi.json and written at build time by gateway_openapi.
#ifndef GOVREPORT_GATEWAY_OPENAPI_H_
#define GOVREPORT_GATEWAY_OPENAPI_H_

#include <string>
#include <vector>

#include "gateway/routes.h"

namespace govreport::gateway {

// Paths and operations per route, request and response schemas from the
// message descriptors (proto3 JSON names), the bearer security scheme.
std::string OpenApiJson(const std::vector<Route>& routes);

}  // namespace govreport::gateway

#endif  // GOVREPORT_GATEWAY_OPENAPI_H_
