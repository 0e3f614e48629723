//! Hostile HTTP servers on 127.0.0.1 for the fault tests: raw TCP, so they can do what no
//! well-behaved framework would (reset, hang, drip, send garbage, redirect forever, never end a
//! body). Every connection is served on its own thread; all of them stop when the server is
//! dropped, and after two minutes whatever happens.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the server does with each request.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Closes each connection as soon as it is accepted, before any request: with an RST when
    /// `reset`, a FIN otherwise.
    Drop { reset: bool },
    /// Reads the request, then closes with an RST (SO_LINGER 0).
    Reset,
    /// Reads the request, then closes (FIN) without a response.
    Close,
    /// Reads the request and never answers (until the client gives up).
    Hang,
    /// Answers every request with this status and an empty body (keep-alive).
    Status(u16),
    /// Answers with bytes that are not HTTP.
    Malformed,
    /// Sends a 200 head announcing a body, then one byte every 100 ms.
    Drip,
    /// Answers every request with a 302 to itself.
    RedirectLoop,
    /// Sends a chunked 200 whose body never ends, as fast as the client reads.
    EndlessBody,
}

/// A running hostile server; stops (and joins its accept thread) when dropped.
pub struct Hostile {
    pub port: u16,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The most any hostile thread lives, so a failing test never leaves one behind for long.
const LIFETIME: Duration = Duration::from_secs(120);

impl Hostile {
    pub fn start(behaviour: Behaviour) -> Hostile {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, st) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + LIFETIME;
            while !st.load(Ordering::SeqCst) && Instant::now() < deadline {
                match l.accept() {
                    Ok((sock, _)) => {
                        a.fetch_add(1, Ordering::SeqCst);
                        let st = st.clone();
                        std::thread::spawn(move || serve(sock, behaviour, &st, deadline));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Hostile {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// True while the server should go on with this connection.
fn alive(stop: &AtomicBool, deadline: Instant) -> bool {
    !stop.load(Ordering::SeqCst) && Instant::now() < deadline
}

fn serve(mut s: TcpStream, behaviour: Behaviour, stop: &AtomicBool, deadline: Instant) {
    if let Behaviour::Drop { reset } = behaviour {
        if reset {
            set_linger_zero(&s);
        }
        return;
    }
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = s.set_write_timeout(Some(Duration::from_millis(500)));
    while read_head(&mut s, stop, deadline) {
        let keep_going = match behaviour {
            Behaviour::Drop { .. } => false,
            Behaviour::Reset => {
                set_linger_zero(&s);
                false
            }
            Behaviour::Close => false,
            Behaviour::Hang => {
                wait_for_close(&mut s, stop, deadline);
                false
            }
            Behaviour::Status(code) => write(
                &mut s,
                format!("HTTP/1.1 {code} Hostile\r\ncontent-length: 0\r\n\r\n").as_bytes(),
            ),
            Behaviour::Malformed => {
                let _ = s.write_all(b"HTTP/1.1 two hundred\r\n\x00\x01\x02 not a header\r\n\r\n");
                false
            }
            Behaviour::Drip => {
                let mut ok = write(&mut s, b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n");
                while ok && alive(stop, deadline) {
                    std::thread::sleep(Duration::from_millis(100));
                    ok = write(&mut s, b"x");
                }
                false
            }
            Behaviour::RedirectLoop => write(
                &mut s,
                b"HTTP/1.1 302 Found\r\nlocation: /loop\r\ncontent-length: 0\r\n\r\n",
            ),
            Behaviour::EndlessBody => {
                let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                let mut ok = write(
                    &mut s,
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
                );
                while ok && alive(stop, deadline) {
                    ok = write(&mut s, chunk.as_bytes());
                }
                false
            }
        };
        if !keep_going {
            return;
        }
    }
}

/// Writes all of `bytes`; false when the client is gone.
fn write(s: &mut TcpStream, bytes: &[u8]) -> bool {
    s.write_all(bytes).is_ok()
}

/// Reads one request head (bodies are not expected); false when the client closed first or the
/// server is stopping. Heads over 64 KiB are not requests this harness sends.
fn read_head(s: &mut TcpStream, stop: &AtomicBool, deadline: Instant) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while alive(stop, deadline) && head.len() < 65536 {
        match s.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                head.extend_from_slice(&buf[..n]);
                if head.windows(4).any(|w| w == b"\r\n\r\n") {
                    return true;
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => return false,
        }
    }
    false
}

/// Holds the connection open, unanswered, until the client closes it or the server stops.
fn wait_for_close(s: &mut TcpStream, stop: &AtomicBool, deadline: Instant) {
    let mut buf = [0u8; 1024];
    while alive(stop, deadline) {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// SO_LINGER with a zero timeout: closing the socket sends an RST instead of a FIN.
pub fn set_linger_zero(sock: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a correctly sized, initialised `linger`.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
}
