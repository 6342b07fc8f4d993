//! [`RedisStore`]: the state shared by replicas, in Redis (`--state redis://HOST:PORT/`), through
//! the `redis` crate's reconnecting connection manager.
//!
//! Keys (all under `veilwatch:`): `deployment:{id}` (hash: `registration` summary JSON, `issued`,
//! `revoked`), `deployment:{id}:materials` (hash: handle → material JSON),
//! `deployment:{id}:revoked-kiosks` (set of kiosk keys), `deployment:{id}:disclosures` (list of
//! JSON), `nonce:{kiosk}:{nonce}` (`SET NX EX`), `budget:{counter}:{deployment}[:{kiosk}]:{window}`
//! (counters that expire after their window), `anchors:{kiosk}` (hash: seq → head JSON, the
//! append-only history), `anchors:{kiosk}:latest` (the highest anchored seq),
//! `deployment:{id}:sealed-gallery` (the sealed gallery, ciphertext) and `sealed:{key}` (sealed
//! custody's per-kiosk state, `SET [EX]`, taken with `GETDEL`).
//!
//! Every decision over several keys is one Lua script (Redis runs a script without interleaving
//! another command), so two replicas can never both spend a kiosk's last face or both accept a
//! registration. A command that fails or takes more than [`RESPONSE_TIMEOUT`] is a [`StoreError`];
//! the manager reconnects in the background, and the next request is served once Redis is back.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::{Applied, DeploymentState, DocumentRefused, StateStore, StoreError, StoreFuture, NONCE_TTL_S};
use crate::authority::anchor::{admit_to_history, AnchorError, SignedHead};
use crate::authority::budget::Charge;
use crate::authority::disclosure::Disclosure;
use crate::authority::registration::{Document, HexBytes, Material, Registration};
use crate::hex::hex;

/// How long one command may take before the request is refused with 503.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// Counters live this long past their window's end (clock differences between replicas).
const COUNTER_GRACE_S: i64 = 60;

const REGISTER: &str = r"
-- KEYS[1] deployment hash, KEYS[2] materials hash, KEYS[3] sealed gallery
-- ARGV[1] issued, ARGV[2] registration summary JSON, ARGV[3] sealed gallery or '',
-- ARGV[4..] handle, material JSON pairs
if redis.call('HGET', KEYS[1], 'revoked') then return {'revoked'} end
local stored = redis.call('HGET', KEYS[1], 'issued')
if stored then
  if tonumber(stored) == tonumber(ARGV[1]) and redis.call('HGET', KEYS[1], 'registration') == ARGV[2] then
    return {'unchanged'}
  end
  if tonumber(stored) >= tonumber(ARGV[1]) then return {'not_newer', stored} end
end
redis.call('HSET', KEYS[1], 'issued', ARGV[1], 'registration', ARGV[2])
redis.call('DEL', KEYS[2], KEYS[3])
if ARGV[3] ~= '' then redis.call('SET', KEYS[3], ARGV[3]) end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return {'changed'}
";

const REVOKE_DEPLOYMENT: &str = r"
-- KEYS[1] deployment hash, KEYS[2] materials hash, KEYS[3] sealed gallery; ARGV[1] issued
if redis.call('HGET', KEYS[1], 'revoked') then return 0 end
redis.call('HSET', KEYS[1], 'revoked', ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3])
return 1
";

/// The budget check-and-charge: all counters or none.
const CHARGE: &str = r"
-- KEYS: counters; ARGV[i]: the limit of KEYS[i]; ARGV[#KEYS + i]: its seconds to live (0: forever)
local n = #KEYS
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[i]) then return i end
end
for i = 1, n do
  redis.call('INCR', KEYS[i])
  local ttl = tonumber(ARGV[n + i])
  if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
end
return 0
";

/// [`admit_to_history`] in one step: the head already at this seq, or the latest seq if it would
/// go backwards, or the append.
const ANCHOR: &str = r"
-- KEYS[1] history hash (seq → head JSON), KEYS[2] latest seq; ARGV[1] seq, ARGV[2] head JSON
local at_seq = redis.call('HGET', KEYS[1], ARGV[1])
if at_seq then return {'at_seq', at_seq} end
local latest = redis.call('GET', KEYS[2])
if latest and tonumber(latest) > tonumber(ARGV[1]) then return {'latest', latest} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
return {'appended'}
";

pub struct RedisStore {
    connection: ConnectionManager,
    register: Script,
    revoke_deployment: Script,
    charge: Script,
    anchor: Script,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("Redis: {e}"))
}

fn deployment_key(deployment: &[u8; 16]) -> String {
    format!("veilwatch:deployment:{}", hex(deployment))
}

fn sub_key(deployment: &[u8; 16], what: &str) -> String {
    format!("{}:{what}", deployment_key(deployment))
}

impl RedisStore {
    /// Connects to `url` (`redis://HOST:PORT/[DB]`); fails if Redis does not answer now.
    pub async fn connect(url: &str) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError(format!("{url} is not a Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(CONNECTION_TIMEOUT)
            .set_response_timeout(RESPONSE_TIMEOUT)
            .set_number_of_retries(2)
            .set_max_delay(500);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| StoreError(format!("cannot reach Redis at {url}: {e}")))?;
        Ok(RedisStore {
            connection,
            register: Script::new(REGISTER),
            revoke_deployment: Script::new(REVOKE_DEPLOYMENT),
            charge: Script::new(CHARGE),
            anchor: Script::new(ANCHOR),
        })
    }

    fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    async fn apply_async(&self, document: &Document) -> Result<Result<Applied, DocumentRefused>, StoreError> {
        let deployment = document.deployment().0;
        let mut connection = self.connection();
        match document {
            Document::RegisterDeployment(registration) => {
                let summary = serde_json::to_string(&registration.summary()).map_err(unavailable)?;
                let mut invocation = self.register.key(deployment_key(&deployment));
                let gallery = registration.sealed_gallery.as_ref().map(|g| g.0.clone()).unwrap_or_default();
                invocation
                    .key(sub_key(&deployment, "materials"))
                    .key(sub_key(&deployment, "sealed-gallery"))
                    .arg(registration.issued)
                    .arg(summary)
                    .arg(gallery);
                for material in &registration.materials {
                    invocation.arg(material.handle.to_hex()).arg(serde_json::to_string(material).map_err(unavailable)?);
                }
                let answer: Vec<String> = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
                match answer.first().map(String::as_str) {
                    Some("changed") => Ok(Ok(Applied::Changed)),
                    Some("unchanged") => Ok(Ok(Applied::Unchanged)),
                    Some("revoked") => Ok(Err(DocumentRefused::DeploymentRevoked)),
                    Some("not_newer") => {
                        let stored = answer.get(1).and_then(|s| s.parse().ok()).unwrap_or(i64::MAX);
                        Ok(Err(DocumentRefused::NotNewer { stored, offered: registration.issued }))
                    }
                    other => Err(StoreError(format!("unexpected answer from the registration script: {other:?}"))),
                }
            }
            Document::RevokeDeployment(revocation) => {
                let changed: i64 = self
                    .revoke_deployment
                    .key(deployment_key(&deployment))
                    .key(sub_key(&deployment, "materials"))
                    .key(sub_key(&deployment, "sealed-gallery"))
                    .arg(revocation.issued)
                    .invoke_async(&mut connection)
                    .await
                    .map_err(unavailable)?;
                Ok(Ok(if changed == 1 { Applied::Changed } else { Applied::Unchanged }))
            }
            Document::RevokeKiosk(revocation) => {
                let added: i64 = redis::cmd("SADD")
                    .arg(sub_key(&deployment, "revoked-kiosks"))
                    .arg(revocation.kiosk_key.to_hex())
                    .query_async(&mut connection)
                    .await
                    .map_err(unavailable)?;
                Ok(Ok(if added == 1 { Applied::Changed } else { Applied::Unchanged }))
            }
        }
    }

    async fn deployment_async(&self, deployment: &[u8; 16]) -> Result<Option<DeploymentState>, StoreError> {
        let mut connection = self.connection();
        let (fields, kiosks): (HashMap<String, String>, Vec<String>) = redis::pipe()
            .cmd("HGETALL")
            .arg(deployment_key(deployment))
            .cmd("SMEMBERS")
            .arg(sub_key(deployment, "revoked-kiosks"))
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        if fields.is_empty() && kiosks.is_empty() {
            return Ok(None);
        }
        let registration = match fields.get("registration") {
            Some(json) => Some(
                serde_json::from_str::<Registration>(json)
                    .map_err(|e| StoreError(format!("a stored registration does not parse: {e}")))?,
            ),
            None => None,
        };
        let revoked_kiosks = kiosks
            .iter()
            .map(|k| HexBytes::<32>::parse(k).map(|k| k.0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| StoreError("a stored revoked kiosk key is not hex".into()))?;
        Ok(Some(DeploymentState { registration, revoked: fields.contains_key("revoked"), revoked_kiosks }))
    }

    async fn first_use_async(&self, kiosk: &[u8; 32], nonce: &[u8; 16]) -> Result<bool, StoreError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("veilwatch:nonce:{}:{}", hex(kiosk), hex(nonce)))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(NONCE_TTL_S)
            .query_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    async fn charge_async(&self, charges: &[Charge], now: i64) -> Result<Option<Charge>, StoreError> {
        let mut invocation = self.charge.prepare_invoke();
        for charge in charges {
            invocation.key(format!("veilwatch:budget:{}", charge.key));
        }
        for charge in charges {
            invocation.arg(charge.limit);
        }
        for charge in charges {
            invocation.arg(charge.window_end.map_or(0, |end| (end - now).max(1) + COUNTER_GRACE_S));
        }
        let refused: usize = invocation.invoke_async(&mut self.connection()).await.map_err(unavailable)?;
        match refused {
            0 => Ok(None),
            i if i <= charges.len() => Ok(Some(charges[i - 1].clone())),
            i => Err(StoreError(format!("the charge script named counter {i} of {}", charges.len()))),
        }
    }

    async fn material_async(&self, deployment: &[u8; 16], handle: &[u8; 16]) -> Result<Option<Material>, StoreError> {
        let json: Option<String> = redis::cmd("HGET")
            .arg(sub_key(deployment, "materials"))
            .arg(hex(handle))
            .query_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError(format!("a stored material does not parse: {e}"))))
            .transpose()
    }

    async fn log_disclosure_async(&self, disclosure: &Disclosure) -> Result<(), StoreError> {
        let json = serde_json::to_string(disclosure).map_err(unavailable)?;
        let _: i64 = redis::cmd("RPUSH")
            .arg(sub_key(&disclosure.deployment.0, "disclosures"))
            .arg(json)
            .query_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn disclosures_async(&self, deployment: &[u8; 16]) -> Result<Vec<Disclosure>, StoreError> {
        let entries: Vec<String> = redis::cmd("LRANGE")
            .arg(sub_key(deployment, "disclosures"))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        entries
            .iter()
            .map(|j| {
                serde_json::from_str(j).map_err(|e| StoreError(format!("a stored disclosure does not parse: {e}")))
            })
            .collect()
    }

    async fn record_anchor_async(&self, head: SignedHead) -> Result<Result<(), AnchorError>, StoreError> {
        let key = anchors_key(&head.kiosk_key);
        let answer: Vec<String> = self
            .anchor
            .key(&key)
            .key(format!("{key}:latest"))
            .arg(head.seq)
            .arg(head.to_json())
            .invoke_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        let stored_head = |json: &str| {
            SignedHead::parse(json).map_err(|e| StoreError(format!("a stored anchor does not parse: {e}")))
        };
        match (answer.first().map(String::as_str), answer.get(1)) {
            (Some("appended"), _) => Ok(Ok(())),
            (Some("at_seq"), Some(json)) => Ok(admit_to_history(&head, Some(&stored_head(json)?), None).map(|_| ())),
            (Some("latest"), Some(seq)) => {
                let latest = seq.parse().map_err(|_| StoreError(format!("a stored anchor seq is `{seq}`")))?;
                Ok(admit_to_history(&head, None, Some(latest)).map(|_| ()))
            }
            other => Err(StoreError(format!("unexpected answer from the anchor script: {other:?}"))),
        }
    }

    async fn anchors_async(&self, kiosk_hex: &str, after: u64) -> Result<Vec<SignedHead>, StoreError> {
        let entries: HashMap<u64, String> = redis::cmd("HGETALL")
            .arg(anchors_key(kiosk_hex))
            .query_async(&mut self.connection())
            .await
            .map_err(unavailable)?;
        let mut heads = entries
            .into_iter()
            .filter(|(seq, _)| *seq > after)
            .map(|(_, json)| {
                SignedHead::parse(&json).map_err(|e| StoreError(format!("a stored anchor does not parse: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        heads.sort_by_key(|h| h.seq);
        Ok(heads)
    }
}

impl RedisStore {
    async fn sealed_gallery_async(&self, deployment: &[u8; 16]) -> Result<Option<Vec<u8>>, StoreError> {
        redis::cmd("GET")
            .arg(sub_key(deployment, "sealed-gallery"))
            .query_async(&mut self.connection())
            .await
            .map_err(unavailable)
    }

    async fn put_sealed_async(&self, key: &str, value: &[u8], ttl_s: Option<u64>) -> Result<(), StoreError> {
        let mut command = redis::cmd("SET");
        command.arg(sealed_key(key)).arg(value);
        if let Some(ttl) = ttl_s {
            command.arg("EX").arg(ttl.max(1));
        }
        let _: () = command.query_async(&mut self.connection()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn sealed_value_async(&self, command: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        redis::cmd(command).arg(sealed_key(key)).query_async(&mut self.connection()).await.map_err(unavailable)
    }
}

fn sealed_key(key: &str) -> String {
    format!("veilwatch:sealed:{key}")
}

fn anchors_key(kiosk_hex: &str) -> String {
    format!("veilwatch:anchors:{kiosk_hex}")
}

impl StateStore for RedisStore {
    fn apply<'a>(&'a self, document: &'a Document) -> StoreFuture<'a, Result<Applied, DocumentRefused>> {
        Box::pin(self.apply_async(document))
    }

    fn deployment<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Option<DeploymentState>> {
        Box::pin(self.deployment_async(deployment))
    }

    fn first_use_of_nonce<'a>(&'a self, kiosk: &'a [u8; 32], nonce: &'a [u8; 16], _now: i64) -> StoreFuture<'a, bool> {
        Box::pin(self.first_use_async(kiosk, nonce))
    }

    fn charge<'a>(&'a self, charges: &'a [Charge], now: i64) -> StoreFuture<'a, Option<Charge>> {
        Box::pin(self.charge_async(charges, now))
    }

    fn material<'a>(&'a self, deployment: &'a [u8; 16], handle: &'a [u8; 16]) -> StoreFuture<'a, Option<Material>> {
        Box::pin(self.material_async(deployment, handle))
    }

    fn log_disclosure<'a>(&'a self, disclosure: &'a Disclosure) -> StoreFuture<'a, ()> {
        Box::pin(self.log_disclosure_async(disclosure))
    }

    fn disclosures<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Vec<Disclosure>> {
        Box::pin(self.disclosures_async(deployment))
    }

    fn record_anchor(&self, head: SignedHead) -> StoreFuture<'_, Result<(), AnchorError>> {
        Box::pin(self.record_anchor_async(head))
    }

    fn anchors<'a>(&'a self, kiosk_hex: &'a str, after: u64) -> StoreFuture<'a, Vec<SignedHead>> {
        Box::pin(self.anchors_async(kiosk_hex, after))
    }

    fn sealed_gallery<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(self.sealed_gallery_async(deployment))
    }

    fn put_sealed<'a>(&'a self, key: &'a str, value: &'a [u8], ttl_s: Option<u64>, _now: i64) -> StoreFuture<'a, ()> {
        Box::pin(self.put_sealed_async(key, value, ttl_s))
    }

    fn get_sealed<'a>(&'a self, key: &'a str, _now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(self.sealed_value_async("GET", key))
    }

    /// `GETDEL` (Redis 6.2 and later): one command, so atomic across replicas.
    fn take_sealed<'a>(&'a self, key: &'a str, _now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(self.sealed_value_async("GETDEL", key))
    }
}
