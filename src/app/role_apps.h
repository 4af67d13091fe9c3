#pragma once

#include "app/role_config.h"

namespace video2mp3::app {

// The four roles of distributed mode, each its own process on RabbitMQ, MongoDB (GridFS),
// PostgreSQL and an SMTP server. Each runs until SIGINT or SIGTERM and returns the exit
// status; throws ConfigError for settings it cannot use. A server that is down when a role
// starts is waited for (with a log line per attempt), not a reason to exit.

/// The public HTTP API (the same Gateway as `serve`), asking the auth service over HTTP.
/// Prints "video2mp3 gateway: listening on URL" once ready. On SIGTERM, /readyz turns 503,
/// and after VIDEO2MP3_SHUTDOWN_DELAY it stops taking requests and finishes those in flight.
int RunGatewayRole(const GatewayRoleConfig& config);

/// The auth service: POST /login, POST /validate, users in PostgreSQL. Prints
/// "video2mp3 auth: listening on URL".
int RunAuthRole(const AuthRoleConfig& config);

/// Converter workers on the `video` queue. Prints "video2mp3 converter: consuming" once
/// started. On SIGTERM it stops consuming; conversions in progress are given back to the
/// queue for another converter.
int RunConverterRole(const ConverterRoleConfig& config);

/// Takes results from the `mp3` queue and e-mails the owners. Prints
/// "video2mp3 notifier: consuming".
int RunNotifierRole(const NotifierRoleConfig& config);

}  // namespace video2mp3::app
