// Loopback helpers for tests: free ports and "is something listening".
#pragma once

#include <chrono>
#include <cstdint>

#include "port/status.h"

namespace edge::test {

// A TCP port that is free right now on every interface, never one of the ports a system
// RabbitMQ or its CLI tools use (4369, 5671, 5672, 15672, 25672, 35672-35682), and never one
// this process picked before. Another process may still take it before we bind: tests accept
// that small race.
Result<uint16_t> PickFreePort();

// True once a TCP connect to 127.0.0.1:port succeeds (polled until `timeout`).
bool WaitForListener(uint16_t port, std::chrono::milliseconds timeout);

}  // namespace edge::test
