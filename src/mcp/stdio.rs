//! The stdio transport: JSON-RPC messages, one per line, with an answer for every line.
//!
//! rmcp's line transport drops a line it cannot decode, or one over the size limit, with
//! a log line and nothing to the client, which then waits for a reply that never comes.
//! Here such a line gets a JSON-RPC error: a line that is not JSON a parse error
//! (-32700), JSON that is no JSON-RPC message or a line over `max_line` an invalid request
//! (-32600), with the request's `id` when it can be read, else `null`. An over-long line is
//! read through to its end without being kept.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

/// Bytes of an over-long line read at a time while skipping it.
const SKIP_CHUNK: u64 = 64 * 1024;

pub(crate) struct LineTransport<R, W> {
    reader: BufReader<R>,
    writer: Arc<Mutex<W>>,
    max_line: usize,
}

impl<R, W> LineTransport<R, W>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    pub(crate) fn new(reader: R, writer: W, max_line: usize) -> Self {
        LineTransport {
            reader: BufReader::new(reader),
            writer: Arc::new(Mutex::new(writer)),
            max_line,
        }
    }

    /// The next line, without its ending; `Err(true)` when it was longer than `max_line`
    /// (and has been skipped), `Err(false)` at the end of input.
    async fn line(&mut self) -> Result<Vec<u8>, bool> {
        let mut buf = Vec::new();
        let limit = self.max_line as u64 + 1;
        match (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return Err(false),
            Ok(_) => {}
        }
        if buf.last() != Some(&b'\n') && buf.len() as u64 >= limit {
            // Over the limit: read through to the end of the line, keeping nothing.
            loop {
                let mut skipped = Vec::new();
                match (&mut self.reader)
                    .take(SKIP_CHUNK)
                    .read_until(b'\n', &mut skipped)
                    .await
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) if skipped.last() == Some(&b'\n') => break,
                    Ok(_) => {}
                }
            }
            return Err(true);
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        Ok(buf)
    }
}

/// Writes a JSON-RPC error reply through the transport's writer.
async fn reply_error<W: AsyncWrite + Unpin>(
    writer: Arc<Mutex<W>>,
    id: Value,
    code: i64,
    message: String,
) {
    let reply = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    let mut bytes = reply.to_string().into_bytes();
    bytes.push(b'\n');
    let mut w = writer.lock().await;
    if w.write_all(&bytes).await.is_err() || w.flush().await.is_err() {
        tracing::debug!("cannot write an error reply to stdout");
    }
}

/// The `id` of what looks like a request, if it has a usable one.
fn request_id(v: &Value) -> Value {
    match v.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    }
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let writer = Arc::clone(&self.writer);
        async move {
            let mut bytes = serde_json::to_vec(&item).map_err(std::io::Error::other)?;
            bytes.push(b'\n');
            let mut w = writer.lock().await;
            w.write_all(&bytes).await?;
            w.flush().await
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            let line = match self.line().await {
                Ok(line) => line,
                Err(false) => return None,
                Err(true) => {
                    let max = self.max_line;
                    tracing::warn!(max, "a message over the size limit was refused");
                    reply_error(
                        Arc::clone(&self.writer),
                        Value::Null,
                        -32600,
                        format!("request: larger than {max} bytes"),
                    )
                    .await;
                    continue;
                }
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(&line) {
                Ok(message) => return Some(message),
                Err(e) => {
                    let (id, code, message) = match serde_json::from_slice::<Value>(&line) {
                        Err(e) => (Value::Null, -32700, format!("parse error: {e}")),
                        Ok(v) => (
                            request_id(&v),
                            -32600,
                            format!("invalid request: not a JSON-RPC 2.0 message ({e})"),
                        ),
                    };
                    tracing::warn!(code, "a line that is no message was refused");
                    reply_error(Arc::clone(&self.writer), id, code, message).await;
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.writer.lock().await.flush().await
    }
}
