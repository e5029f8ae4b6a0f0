// Facts about a certificate file for operators (`edge-agent status`: days until our client
// certificate expires, so a fleet can renew before gateways lose their broker).
#pragma once

#include <cstdint>
#include <string>

#include "port/status.h"

namespace edge::port {

// Whole days from now until the first certificate in the PEM file expires (negative when it
// already has). kNotFound / kInvalidArgument with mbedTLS's reason when it cannot be read.
Result<int64_t> CertificateDaysLeft(const std::string& pem_path);

}  // namespace edge::port
