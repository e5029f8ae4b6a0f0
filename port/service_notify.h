// systemd notification (Type=notify, WatchdogSec=) without linking libsystemd: one datagram to
// $NOTIFY_SOCKET per message. Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
#pragma once

#include <string>

namespace edge::port {

class ServiceNotifier {
 public:
  ServiceNotifier();  // reads NOTIFY_SOCKET and WATCHDOG_USEC
  void Ready();                                 // READY=1
  void Stopping();                              // STOPPING=1
  void Reloading();                             // RELOADING=1
  void Status(const std::string& text);         // STATUS=...
  void WatchdogPing();                          // WATCHDOG=1
  // Half the watchdog interval systemd asked for, in ms; 0 when there is no watchdog.
  int watchdog_ping_interval_ms() const { return watchdog_ping_ms_; }
  bool enabled() const { return !socket_path_.empty(); }

 private:
  void Send(const std::string& message);
  std::string socket_path_;
  int watchdog_ping_ms_ = 0;
};

}  // namespace edge::port
