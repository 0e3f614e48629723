//! Our ROUTER and DEALER against each other on 127.0.0.1: routing by node id, queueing before the
//! master is up, reconnect, linger on close, bind errors, and the hardening (oversized messages
//! dropped without killing the connection, undecodable ones reported with their sender).

use std::future::Future;
use std::time::Duration;

use rmpv::Value;
use rustlocust::distributed::zmtp::{self, SocketType};
use rustlocust::distributed::{
    MasterSocket, Message, TransportError, TransportOptions, WorkerSocket,
};
use tokio::io::AsyncWriteExt;

/// Every wait in these tests is bounded.
async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("timed out")
}

async fn master(options: TransportOptions) -> MasterSocket {
    MasterSocket::bind("127.0.0.1", 0, options)
        .await
        .expect("bind")
}

fn msg(kind: &str, node: &str) -> Message {
    Message::new(kind, Value::Nil, node)
}

async fn recv_kind(m: &mut MasterSocket) -> (String, String) {
    let (peer, message) = within(m.recv()).await.expect("a message");
    (peer, message.kind)
}

#[tokio::test]
async fn master_and_worker_talk_both_ways() {
    let mut m = master(TransportOptions::default()).await;
    let mut w = WorkerSocket::connect(
        "127.0.0.1",
        m.port(),
        "host_abc",
        TransportOptions::default(),
    );
    w.send(&msg("client_ready", "host_abc")).expect("queued");
    assert_eq!(
        recv_kind(&mut m).await,
        ("host_abc".into(), "client_ready".into())
    );
    assert_eq!(m.peers(), vec!["host_abc".to_owned()]);

    m.send(&msg("ack", "host_abc")).expect("routed");
    assert_eq!(
        within(w.recv()).await.map(|m| m.kind).ok(),
        Some("ack".into())
    );
    assert!(matches!(
        m.send(&msg("ack", "nobody")),
        Err(TransportError::UnknownPeer(p)) if p == "nobody"
    ));
}

#[tokio::test]
async fn a_worker_queues_until_the_master_is_up_and_close_delivers_the_queue() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let w = WorkerSocket::connect("127.0.0.1", port, "early_1", TransportOptions::default());
    for kind in ["one", "two", "three"] {
        w.send(&msg(kind, "early_1")).expect("queued");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut m = MasterSocket::bind("127.0.0.1", port, TransportOptions::default())
        .await
        .expect("bind");
    within(w.close(Duration::from_secs(5))).await;
    for kind in ["one", "two", "three"] {
        assert_eq!(recv_kind(&mut m).await.1, kind);
    }
}

#[tokio::test]
async fn reconnect_replaces_the_connection_under_the_same_id() {
    let mut m = master(TransportOptions::default()).await;
    let mut w = WorkerSocket::connect("127.0.0.1", m.port(), "host_r", TransportOptions::default());
    w.send(&msg("before", "host_r")).expect("queued");
    assert_eq!(recv_kind(&mut m).await.1, "before");
    w.reconnect();
    w.send(&msg("after", "host_r")).expect("queued");
    assert_eq!(recv_kind(&mut m).await, ("host_r".into(), "after".into()));
    // The master's replies reach the new connection.
    m.send(&msg("heartbeat", "host_r")).expect("routed");
    assert_eq!(
        within(w.recv()).await.map(|m| m.kind).ok(),
        Some("heartbeat".into())
    );
    assert_eq!(m.peers().len(), 1);
}

#[tokio::test]
async fn oversized_messages_are_dropped_and_the_connection_goes_on() {
    let options = TransportOptions {
        max_frame_bytes: 1024,
        ..TransportOptions::default()
    };
    let mut m = master(options.clone()).await;
    let w = WorkerSocket::connect("127.0.0.1", m.port(), "host_big", options);
    let big = Message::new("logs", Value::Binary(vec![7; 64 * 1024]), "host_big");
    w.send(&big).expect("queued");
    w.send(&msg("small", "host_big")).expect("queued");
    assert_eq!(recv_kind(&mut m).await.1, "small");
}

#[tokio::test]
async fn an_undecodable_message_names_its_sender() {
    let mut m = master(TransportOptions::default()).await;
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", m.port()))
        .await
        .expect("connect");
    within(zmtp::handshake(&mut raw, SocketType::Dealer, b"host_bad"))
        .await
        .expect("handshake");
    let mut bytes = Vec::new();
    zmtp::encode_message(&[b"\x93\xa1x"], &mut bytes);
    raw.write_all(&bytes).await.expect("write");
    match within(m.recv()).await {
        Err(e @ TransportError::Malformed { .. }) => {
            assert!(!e.is_fatal());
            assert!(e.to_string().contains("host_bad"), "{e}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[tokio::test]
async fn binding_everywhere_and_bind_errors() {
    let m = MasterSocket::bind("*", 0, TransportOptions::default())
        .await
        .expect("bind *");
    let mut w = WorkerSocket::connect(
        "127.0.0.1",
        m.port(),
        "host_star",
        TransportOptions::default(),
    );
    let mut m = m;
    w.send(&msg("client_ready", "host_star")).expect("queued");
    assert_eq!(recv_kind(&mut m).await.1, "client_ready");
    m.send(&msg("ack", "host_star")).expect("routed");
    assert!(within(w.recv()).await.is_ok());

    let taken = master(TransportOptions::default()).await;
    match MasterSocket::bind("127.0.0.1", taken.port(), TransportOptions::default()).await {
        Err(e @ TransportError::Bind { .. }) => assert!(e.is_fatal()),
        other => panic!("expected a bind error, got {:?}", other.map(|m| m.port())),
    }
}
