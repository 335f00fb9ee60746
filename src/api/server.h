// The HTTP listener (cpp-httplib) in front of a Router.
//
// Created by the daemon; runs its own thread pool. start() binds and returns the
// bound port (useful with port 0); stop() closes the listener and joins.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "api/router.h"
#include "core/error.h"

namespace httplib {
class Server;
}

namespace megasync::api {

class Server {
 public:
  explicit Server(Router& router);
  ~Server();

  // Binds `listen` ("host:port") and serves in the background. Fails with a
  // message naming the address when it cannot bind.
  Result<int> start(const std::string& listen);
  void stop();

 private:
  Router& router_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::atomic<bool> finished_{false};  // set by thread_ when the listen loop has returned
};

}  // namespace megasync::api
