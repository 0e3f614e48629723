//! The optional shared secret (`--master-secret`): a rustlocust worker proves it knows the secret
//! before each `client_ready`, and a master with a secret ignores workers that have not.
//!
//! Why a message of its own: `client_ready`'s data is the bare version, which a Locust master
//! slices as a string, so an extra field there would break Locust masters; a message of an
//! unknown type is only a warning to them (`Unknown message type received from worker`). The
//! message goes out on the same connection right before `client_ready`, so ZeroMQ's per-peer
//! order makes it arrive first.
//!
//! The proof is HMAC-SHA256 of the worker's node id under the secret, not the secret itself: a
//! sniffer of the (unencrypted) channel does not learn a secret that may be used elsewhere. It
//! can still replay the proof under the same node id, and read and inject anything on the
//! channel anyway: this keeps stray or unauthorised workers out of a trusted network, it is no
//! defence against an eavesdropper (docs/distributed.md, "Security").

use rmpv::Value;

use crate::encoding::constant_time_eq;

/// The secret itself; `Debug` does not show it (options and commands are debug-printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(not shown)")
    }
}

/// The message type of the proof.
pub const AUTH_MESSAGE: &str = "rustlocust_auth";

/// What the HMAC covers besides the node id, so that the tag means nothing in another protocol.
const CONTEXT: &[u8] = b"rustlocust master secret v1\0";

/// The proof a worker named `node_id` sends: `HMAC-SHA256(secret, CONTEXT || node_id)`.
pub fn proof(secret: &Secret, node_id: &str) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(CONTEXT);
    ctx.update(node_id.as_bytes());
    ctx.sign().as_ref().to_vec()
}

/// The `rustlocust_auth` message's data for `node_id`.
pub fn proof_value(secret: &Secret, node_id: &str) -> Value {
    Value::Binary(proof(secret, node_id))
}

/// Whether `data` (an `rustlocust_auth` message's) is the right proof for `node_id`, compared
/// in constant time. Anything but bytes is wrong.
pub fn verify(secret: &Secret, node_id: &str, data: &Value) -> bool {
    match data {
        Value::Binary(got) => constant_time_eq(got, &proof(secret, node_id)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_secret_and_node_verify() {
        let s = Secret::new("s3cret");
        let good = proof_value(&s, "worker_1");
        assert!(verify(&s, "worker_1", &good));
        assert!(!verify(&Secret::new("s3cret!"), "worker_1", &good));
        assert!(!verify(&s, "worker_2", &good));
        assert!(!verify(&s, "worker_1", &Value::from("s3cret")));
        assert!(!verify(&s, "worker_1", &Value::Nil));
        assert!(!verify(&s, "worker_1", &Value::Binary(Vec::new())));
        assert_eq!(format!("{:?}", Some(s)), "Some(Secret(not shown))");
    }

    #[test]
    fn the_proof_is_hmac_sha256_of_context_and_node_id() {
        // RFC 4231 test case 2's key and data, with our context prepended to the data, checked
        // against Python's `hmac.new(b"Jefe", context + data, hashlib.sha256).hexdigest()`.
        let tag = proof(&Secret::new("Jefe"), "what do ya want for nothing?");
        assert_eq!(tag.len(), 32);
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, EXPECTED_JEFE);
    }

    const EXPECTED_JEFE: &str = "0d542e7435091b3ee3a24d003c2159653cfaea0d85abc88cf9e728253fec36cb";
}
