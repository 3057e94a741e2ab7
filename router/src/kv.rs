//! A lazily connected Redis shared by the router's caches (APQ documents, plans): connected
//! on first use, reconnected by the connection manager, and every call bounded in time.
//! Redis failures are never the client's problem: a failed call is `None`, logged, and the
//! caller falls back to what it can do alone.

use redis::aio::ConnectionManager;
use std::time::Duration;

/// How long one Redis call may take before it counts as failed.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

pub struct Kv {
    client: redis::Client,
    /// `None` until the first successful connect; the manager then reconnects by itself.
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    /// What the logs call this use of Redis.
    purpose: &'static str,
}

impl Kv {
    pub fn open(url: &str, purpose: &'static str) -> Result<Kv, redis::RedisError> {
        Ok(Kv {
            client: redis::Client::open(url)?,
            conn: tokio::sync::Mutex::new(None),
            purpose,
        })
    }

    /// `GET key`.
    pub async fn get(&self, key: &str) -> Option<Option<Vec<u8>>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        self.call("GET", cmd).await
    }

    /// `SET key value EX ttl`; whether it was stored.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("EX").arg(ttl.as_secs().max(1));
        self.call::<()>("SET", cmd).await.is_some()
    }

    /// `MGET keys...`.
    pub async fn mget(&self, keys: &[&str]) -> Option<Vec<Option<Vec<u8>>>> {
        let mut cmd = redis::cmd("MGET");
        cmd.arg(keys);
        self.call("MGET", cmd).await
    }

    /// Any command (`op` names it in logs), within the same bounds.
    pub async fn query<T: redis::FromRedisValue>(&self, op: &str, cmd: redis::Cmd) -> Option<T> {
        self.call(op, cmd).await
    }

    /// Runs `cmd` within [`REDIS_TIMEOUT`]; `None` (logged) when it fails.
    async fn call<T: redis::FromRedisValue>(&self, op: &str, cmd: redis::Cmd) -> Option<T> {
        let call = async {
            let mut connection = {
                let mut slot = self.conn.lock().await;
                match slot.as_ref() {
                    Some(existing) => existing.clone(),
                    None => {
                        let fresh = ConnectionManager::new(self.client.clone()).await?;
                        *slot = Some(fresh.clone());
                        fresh
                    }
                }
            };
            cmd.query_async::<T>(&mut connection).await
        };
        let purpose = self.purpose;
        match tokio::time::timeout(REDIS_TIMEOUT, call).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                tracing::warn!(%error, op, purpose, "Redis call failed");
                None
            }
            Err(_) => {
                tracing::warn!(op, purpose, "Redis did not answer in time");
                None
            }
        }
    }
}
