//! The subset of ZMTP 3.0 (ZeroMQ's wire protocol, rfc.zeromq.org/spec/23) that Locust's sockets
//! use: TCP, the NULL security mechanism, ROUTER and DEALER. Written here rather than taken from a
//! crate so that a frame's length is checked before anything is buffered: an oversized frame is
//! read past in small chunks and reported, never allocated (docs/distributed.md, "Why this ZeroMQ
//! crate").

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Frame flag bits.
const MORE: u8 = 0x01;
const LONG: u8 = 0x02;
const COMMAND: u8 = 0x04;

/// Commands are tiny (READY with a 255-byte identity, PING); more is a broken or hostile peer.
const MAX_COMMAND_BYTES: u64 = 64 * 1024;

/// The two socket types this module speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketType {
    Router,
    Dealer,
}

impl SocketType {
    fn name(self) -> &'static str {
        match self {
            SocketType::Router => "ROUTER",
            SocketType::Dealer => "DEALER",
        }
    }

    /// ZMTP's valid pairings for the socket types a ROUTER or DEALER may talk to.
    fn accepts(self, peer: &str) -> bool {
        match self {
            SocketType::Router => matches!(peer, "DEALER" | "REQ" | "ROUTER"),
            SocketType::Dealer => matches!(peer, "ROUTER" | "REP" | "DEALER"),
        }
    }
}

/// Why a ZMTP connection failed; the connection is unusable afterwards.
#[derive(Debug, thiserror::Error)]
pub enum ZmtpError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("peer does not speak ZMTP 3: {0}")]
    Greeting(&'static str),
    #[error("peer wants security mechanism {0:?}; only NULL is supported")]
    Mechanism(String),
    #[error("bad handshake: {0}")]
    Handshake(String),
    #[error("a {me} socket cannot talk to a {peer} socket")]
    Incompatible { me: &'static str, peer: String },
    #[error("command frame of {0} bytes")]
    CommandTooLarge(u64),
    #[error("frame with reserved flag bits {0:#04x}")]
    Flags(u8),
    #[error("peer sent ERROR: {0}")]
    PeerError(String),
}

/// Bounds on what one message may hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest message, all frames together.
    pub max_message_bytes: usize,
    /// Most frames in one message (Locust uses one or two).
    pub max_parts: usize,
}

/// What the peer said about itself in its READY command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub socket_type: String,
    /// The `Identity` property (a DEALER's routing id); empty when the peer set none.
    pub identity: Vec<u8>,
}

/// One read from a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A complete message, one entry per frame.
    Message(Vec<Vec<u8>>),
    /// A message over the limits; its bytes were read and discarded.
    Dropped { bytes: u64, parts: usize },
}

/// Our 64-byte greeting: signature, version 3.0, mechanism NULL, not a server.
fn greeting() -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xff;
    // Bytes 1..9 are padding; libzmq puts a length there for ZMTP 1.0 peers, 1 is what it sends
    // for an empty one.
    g[8] = 0x01;
    g[9] = 0x7f;
    g[10] = 3;
    g[11] = 0;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// Exchanges greetings and READY commands. Both sides write first, so neither waits on the other.
pub async fn handshake<S>(
    io: &mut S,
    me: SocketType,
    identity: &[u8],
) -> Result<PeerInfo, ZmtpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(&greeting()).await?;
    io.flush().await?;
    let mut peer = [0u8; 64];
    io.read_exact(&mut peer[..10]).await?;
    if peer[0] != 0xff || peer[9] & 0x01 == 0 {
        return Err(ZmtpError::Greeting("bad signature"));
    }
    io.read_exact(&mut peer[10..]).await?;
    if peer[10] < 3 {
        return Err(ZmtpError::Greeting("version before 3.0"));
    }
    let mechanism = String::from_utf8_lossy(&peer[12..32])
        .trim_end_matches('\0')
        .to_owned();
    if mechanism != "NULL" {
        return Err(ZmtpError::Mechanism(mechanism));
    }

    let mut ready = Vec::with_capacity(64);
    ready.push(5);
    ready.extend_from_slice(b"READY");
    put_property(&mut ready, "Socket-Type", me.name().as_bytes());
    if me == SocketType::Dealer {
        put_property(&mut ready, "Identity", identity);
    }
    let mut out = Vec::with_capacity(ready.len() + 9);
    put_frame(&mut out, COMMAND, &ready);
    io.write_all(&out).await?;
    io.flush().await?;

    let (flags, len) = read_header(io).await?;
    if flags & COMMAND == 0 {
        return Err(ZmtpError::Handshake("expected READY, got a message".into()));
    }
    if len > MAX_COMMAND_BYTES {
        return Err(ZmtpError::CommandTooLarge(len));
    }
    let mut body = vec![0u8; len as usize];
    io.read_exact(&mut body).await?;
    let info = parse_ready(&body)?;
    if !me.accepts(&info.socket_type) {
        return Err(ZmtpError::Incompatible {
            me: me.name(),
            peer: info.socket_type,
        });
    }
    Ok(info)
}

fn put_property(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

/// Splits a command body into its name and the rest.
fn command_name(body: &[u8]) -> Result<(&[u8], &[u8]), ZmtpError> {
    let (&n, rest) = body
        .split_first()
        .ok_or_else(|| ZmtpError::Handshake("empty command".into()))?;
    if rest.len() < n as usize {
        return Err(ZmtpError::Handshake("truncated command name".into()));
    }
    Ok(rest.split_at(n as usize))
}

fn parse_ready(body: &[u8]) -> Result<PeerInfo, ZmtpError> {
    let (name, mut props) = command_name(body)?;
    if name == b"ERROR" {
        return Err(ZmtpError::PeerError(
            String::from_utf8_lossy(props.get(1..).unwrap_or_default()).into_owned(),
        ));
    }
    if name != b"READY" {
        return Err(ZmtpError::Handshake(format!(
            "expected READY, got {}",
            String::from_utf8_lossy(name)
        )));
    }
    let truncated = || ZmtpError::Handshake("truncated READY property".into());
    let mut info = PeerInfo {
        socket_type: String::new(),
        identity: Vec::new(),
    };
    while let Some((&n, rest)) = props.split_first() {
        let (key, rest) = rest.split_at_checked(n as usize).ok_or_else(truncated)?;
        let (len, rest) = rest.split_at_checked(4).ok_or_else(truncated)?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (value, rest) = rest.split_at_checked(len).ok_or_else(truncated)?;
        // Property names are case-insensitive.
        if key.eq_ignore_ascii_case(b"Socket-Type") {
            info.socket_type = String::from_utf8_lossy(value).into_owned();
        } else if key.eq_ignore_ascii_case(b"Identity") {
            info.identity = value.to_vec();
        }
        props = rest;
    }
    Ok(info)
}

async fn read_header<R: AsyncRead + Unpin>(r: &mut R) -> Result<(u8, u64), ZmtpError> {
    let flags = r.read_u8().await?;
    if flags & !(MORE | LONG | COMMAND) != 0 {
        return Err(ZmtpError::Flags(flags));
    }
    let len = if flags & LONG != 0 {
        r.read_u64().await?
    } else {
        u64::from(r.read_u8().await?)
    };
    Ok((flags, len))
}

/// Reads the next message, skipping commands (PING, SUBSCRIBE... mean nothing to ROUTER/DEALER
/// without heartbeats, which Locust does not configure). A message over `limits` is read past in
/// small chunks and returned as [`Incoming::Dropped`]; the connection stays usable.
pub async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    limits: Limits,
) -> Result<Incoming, ZmtpError> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut total: u64 = 0;
    let mut count = 0usize;
    let mut dropping = false;
    loop {
        let (flags, len) = read_header(r).await?;
        if flags & COMMAND != 0 {
            if len > MAX_COMMAND_BYTES {
                return Err(ZmtpError::CommandTooLarge(len));
            }
            let mut body = vec![0u8; len as usize];
            r.read_exact(&mut body).await?;
            if let Ok((b"ERROR", reason)) = command_name(&body) {
                let reason = String::from_utf8_lossy(reason.get(1..).unwrap_or_default());
                return Err(ZmtpError::PeerError(reason.into_owned()));
            }
            continue;
        }
        total = total.saturating_add(len);
        count += 1;
        dropping |= total > limits.max_message_bytes as u64 || count > limits.max_parts;
        if dropping {
            parts.clear();
            let skipped = tokio::io::copy(&mut r.take(len), &mut tokio::io::sink()).await?;
            if skipped < len {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        } else {
            // Grows as bytes arrive, so a peer announcing a big frame and stalling holds nothing.
            let mut frame = Vec::new();
            let got = r.take(len).read_to_end(&mut frame).await?;
            if (got as u64) < len {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
            parts.push(frame);
        }
        if flags & MORE == 0 {
            return Ok(if dropping {
                Incoming::Dropped {
                    bytes: total,
                    parts: count,
                }
            } else {
                Incoming::Message(parts)
            });
        }
    }
}

fn put_frame(out: &mut Vec<u8>, flags: u8, body: &[u8]) {
    if body.len() > 255 {
        out.push(flags | LONG);
        out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    } else {
        out.push(flags);
        out.push(body.len() as u8);
    }
    out.extend_from_slice(body);
}

/// Appends a message's frames (MORE on every frame but the last) to `out`.
pub fn encode_message(parts: &[&[u8]], out: &mut Vec<u8>) {
    for (i, part) in parts.iter().enumerate() {
        let more = if i + 1 < parts.len() { MORE } else { 0 };
        put_frame(out, more, part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_message_bytes: 1000,
        max_parts: 4,
    };

    #[tokio::test]
    async fn handshake_between_router_and_dealer() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let (ra, rb) = tokio::join!(
            handshake(&mut a, SocketType::Router, b""),
            handshake(&mut b, SocketType::Dealer, b"worker_1"),
        );
        let (ra, rb) = (ra.ok(), rb.ok());
        assert_eq!(
            ra.map(|p| (p.socket_type, p.identity)),
            Some(("DEALER".into(), b"worker_1".to_vec()))
        );
        assert_eq!(rb.map(|p| p.socket_type), Some("ROUTER".into()));
    }

    #[tokio::test]
    async fn incompatible_types_are_refused() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let (ra, _) = tokio::join!(
            handshake(&mut a, SocketType::Router, b""),
            handshake(&mut b, SocketType::Router, b""),
        );
        assert!(ra.is_ok(), "ROUTER-ROUTER is a valid ZMTP pairing");
        let mut bytes = greeting().to_vec();
        let mut ready = vec![5];
        ready.extend_from_slice(b"READY");
        put_property(&mut ready, "Socket-Type", b"PUB");
        put_frame(&mut bytes, COMMAND, &ready);
        let mut io = tokio_test_io(bytes);
        let r = handshake(&mut io, SocketType::Dealer, b"x").await;
        assert!(matches!(r, Err(ZmtpError::Incompatible { .. })), "{r:?}");
    }

    /// A stream that reads `input` and swallows writes.
    fn tokio_test_io(input: Vec<u8>) -> impl AsyncRead + AsyncWrite + Unpin {
        tokio::io::join(std::io::Cursor::new(input), tokio::io::sink())
    }

    #[tokio::test]
    async fn oversized_messages_are_skipped_and_the_stream_goes_on() {
        let mut bytes = Vec::new();
        encode_message(&[b"id", &[7u8; 2000]], &mut bytes);
        encode_message(&[b"a", b"b", b"c", b"d", b"e"], &mut bytes);
        // A command between messages is ignored.
        put_frame(&mut bytes, COMMAND, b"\x04PING\x00\x00");
        encode_message(&[b"small"], &mut bytes);
        let mut r = std::io::Cursor::new(bytes);
        assert_eq!(
            read_message(&mut r, LIMITS).await.ok(),
            Some(Incoming::Dropped {
                bytes: 2002,
                parts: 2
            })
        );
        assert_eq!(
            read_message(&mut r, LIMITS).await.ok(),
            Some(Incoming::Dropped { bytes: 5, parts: 5 })
        );
        assert_eq!(
            read_message(&mut r, LIMITS).await.ok(),
            Some(Incoming::Message(vec![b"small".to_vec()]))
        );
        assert!(matches!(
            read_message(&mut r, LIMITS).await,
            Err(ZmtpError::Io(_))
        ));
    }

    #[tokio::test]
    async fn a_huge_announced_frame_allocates_nothing() {
        // Header claims 2^62 bytes, then the stream ends: an EOF error, not an allocation.
        let mut bytes = vec![LONG];
        bytes.extend_from_slice(&(1u64 << 62).to_be_bytes());
        bytes.extend_from_slice(&[0u8; 100]);
        let r = read_message(&mut std::io::Cursor::new(bytes), LIMITS).await;
        assert!(matches!(r, Err(ZmtpError::Io(_))), "{r:?}");
        let r = read_message(&mut std::io::Cursor::new(vec![0x80, 1, 0]), LIMITS).await;
        assert!(matches!(r, Err(ZmtpError::Flags(0x80))), "{r:?}");
    }
}
