//! The built-in demo target (`rustlocust::demo`, what `rustlocust demo-target` serves), in-process.

use std::net::SocketAddr;

use super::server::ServerThread;

/// `rustlocust::demo` on 127.0.0.1, on its own thread and runtime; stopped on drop.
pub struct DemoTarget {
    pub addr: SocketAddr,
    server: ServerThread,
}

impl DemoTarget {
    /// The demo target exactly as `rustlocust demo-target` serves it.
    pub fn start() -> DemoTarget {
        Self::start_with(rustlocust::demo::DemoConfig::default())
    }

    /// The demo target with other latency, ratios or pending time.
    pub fn start_with(config: rustlocust::demo::DemoConfig) -> DemoTarget {
        let server = ServerThread::start(rustlocust::demo::router_with(config), "demo target");
        DemoTarget {
            addr: server.addr,
            server,
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}
