//! The accept loop: plain TCP or TLS (rustls), HTTP/1 and HTTP/2, the client's
//! address for every request (`ConnectInfo`, used by the sign-in brake), and a
//! graceful shutdown. No connection stays open without serving requests:
//!
//! - from accept to the first complete request (TLS handshake included, HTTP/1
//!   or 2): [`ServeOptions::first_request_timeout`] (20 s by default);
//! - between requests: [`ServeOptions::idle_timeout`] (120 s);
//! - a client that stopped reading (a write to its socket that makes no progress,
//!   over http or TLS): [`ServeOptions::send_timeout`] (60 s; nginx's
//!   `send_timeout`). An HTTP/2 client that stops reading one stream but keeps the
//!   connection alive (its flow-control window full, pings answered) is not
//!   caught by it: it holds one of [`HTTP2_MAX_STREAMS`] streams and one of the
//!   capped connections;
//! - HTTP/1 headers, once started: [`ServeOptions::header_timeout`] (30 s; hyper's
//!   own timer, which `axum::serve` does not install);
//! - HTTP/2: a keep-alive ping every [`HTTP2_KEEP_ALIVE_INTERVAL`], the connection
//!   closed when one goes unanswered for [`HTTP2_KEEP_ALIVE_TIMEOUT`]; a header
//!   block left unfinished falls under the first-request and idle timeouts;
//! - at most [`ServeOptions::max_connections`] at once ([`crate::connections`]:
//!   the oldest silent one makes room, or a new one is closed at once), kept below
//!   the open-file limit ([`crate::open_files`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::config::{TlsFiles, defaults};
use crate::connections::{Activity, Closing, InFlight, Registry, Timeouts};

/// How long open connections get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2: how often an idle connection is pinged.
pub const HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// HTTP/2: how long a ping may go unanswered before the connection is closed.
pub const HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// HTTP/2: streams a client may reset before the server has answered them (the
/// "rapid reset" flood), before the connection is closed.
const HTTP2_MAX_PENDING_RESETS: usize = 20;
/// HTTP/2: streams open at once on one connection.
const HTTP2_MAX_STREAMS: u32 = 128;

/// How to serve.
#[derive(Clone)]
pub struct ServeOptions {
    /// TLS, when the helper serves https.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Time a client has to send an HTTP/1 request's headers, once begun.
    pub header_timeout: Duration,
    /// Time from accept (TLS handshake included) to the first complete request.
    pub first_request_timeout: Duration,
    /// Time a keep-alive connection may sit without a request in flight.
    pub idle_timeout: Duration,
    /// Time a response may wait for its client to read on.
    pub send_timeout: Duration,
    /// Connections open at once (lowered to fit the open-file limit).
    pub max_connections: usize,
    /// HTTP/2 keep-alive ping interval.
    pub http2_keep_alive_interval: Duration,
    /// HTTP/2 keep-alive ping timeout.
    pub http2_keep_alive_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            tls: None,
            header_timeout: defaults::HEADER_TIMEOUT,
            first_request_timeout: defaults::FIRST_REQUEST_TIMEOUT,
            idle_timeout: defaults::IDLE_TIMEOUT,
            send_timeout: defaults::SEND_TIMEOUT,
            max_connections: defaults::MAX_CONNECTIONS,
            http2_keep_alive_interval: HTTP2_KEEP_ALIVE_INTERVAL,
            http2_keep_alive_timeout: HTTP2_KEEP_ALIVE_TIMEOUT,
        }
    }
}

/// A response body that keeps its request counted as in flight until it is done
/// (a zip or a download streams long after its handler returned).
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Gives every request what the handlers read, whatever its HTTP version: a `Host`
/// header (HTTP/2 sends `:authority` instead, which hyper puts in the URI) and
/// `X-Forwarded-Proto` with this connection's real scheme (overwriting whatever a
/// client sent: this loop is the only one that knows).
fn normalize<B>(request: &mut hyper::Request<B>, scheme: &'static str) {
    use axum::http::{HeaderValue, header};
    if !request.headers().contains_key(header::HOST)
        && let Some(authority) = request.uri().authority()
        && let Ok(value) = HeaderValue::from_str(authority.as_str())
    {
        request.headers_mut().insert(header::HOST, value);
    }
    request.headers_mut().insert(
        header::HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(scheme),
    );
}

/// Reads a PEM certificate chain and key into a rustls server configuration.
pub fn tls_config(files: &TlsFiles) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    crate::media_proxy::install_crypto_provider();
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| pem_error(&files.cert, "certificate", err))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no certificate", files.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|err| pem_error(&files.key, "private key", err))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not go together")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn pem_error(path: &Path, what: &str, err: rustls::pki_types::pem::Error) -> anyhow::Error {
    anyhow::anyhow!("reading the TLS {what} from {}: {err}", path.display())
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// connections finish (for a while).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = options.tls.clone().map(TlsAcceptor::from);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(options.http2_keep_alive_interval)
        .keep_alive_timeout(options.http2_keep_alive_timeout)
        .max_pending_accept_reset_streams(HTTP2_MAX_PENDING_RESETS)
        .max_concurrent_streams(HTTP2_MAX_STREAMS);
    let open_files = crate::open_files::current().and_then(|limit| limit.soft);
    let cap = crate::open_files::connection_cap(options.max_connections, open_files);
    if cap < options.max_connections {
        tracing::warn!(
            open_files,
            "the open-file limit leaves room for {cap} connections, not the {} asked for",
            options.max_connections
        );
    }
    let registry = Registry::new(cap);
    let timeouts = Timeouts {
        first_request: options.first_request_timeout,
        idle: options.idle_timeout,
    };
    let send_timeout = options.send_timeout;
    tracing::info!(
        max_connections = cap,
        first_request_timeout = ?timeouts.first_request,
        idle_timeout = ?timeouts.idle,
        ?send_timeout,
        "connection limits"
    );
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: log, breathe, go on.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(place) = registry.admit().await else {
            drop(stream);
            continue;
        };
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let service = service(app.clone(), Arc::clone(place.activity()), remote, scheme);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let activity = Arc::clone(place.activity());
            let closing = activity.until_closing(timeouts);
            tokio::pin!(closing);
            match acceptor {
                None => {
                    drive(
                        &builder,
                        stream,
                        service,
                        watcher,
                        closing,
                        remote,
                        send_timeout,
                    )
                    .await
                }
                Some(acceptor) => {
                    // A TLS connection starts with a handshake record; anything
                    // else is most likely plain http to the https port, which is
                    // sent where it meant to go instead of a bare TLS alert.
                    let mut first = [0u8; 1];
                    let peeked = tokio::select! {
                        peeked = stream.peek(&mut first) => peeked,
                        why = &mut closing => {
                            tracing::debug!(%remote, ?why, "closed before the TLS handshake");
                            return;
                        }
                    };
                    match peeked {
                        Ok(1..) if first[0] != TLS_HANDSHAKE_RECORD => {
                            drive(
                                &builder,
                                stream,
                                to_https(),
                                watcher,
                                closing,
                                remote,
                                send_timeout,
                            )
                            .await;
                            drop(place);
                            return;
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                    let tls = tokio::select! {
                        tls = acceptor.accept(stream) => match tls {
                            Ok(tls) => tls,
                            Err(err) => {
                                tracing::debug!(error = %err, %remote, "TLS handshake failed");
                                return;
                            }
                        },
                        why = &mut closing => {
                            tracing::debug!(%remote, ?why, "closed during the TLS handshake");
                            return;
                        }
                    };
                    drive(
                        &builder,
                        tls,
                        service,
                        watcher,
                        closing,
                        remote,
                        send_timeout,
                    )
                    .await;
                }
            }
            drop(place);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open after {} s; closing them",
            DRAIN_TIMEOUT.as_secs()
        );
    }
    Ok(())
}

/// The service of one connection: the app, with the client's address, the
/// request normalised, and the request counted in flight until its response ends.
fn service(
    app: Router,
    activity: Arc<Activity>,
    remote: SocketAddr,
    scheme: &'static str,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = hyper::Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<hyper::Response<Body>, Infallible>> + Send,
> + Clone
+ Send
+ 'static {
    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let in_flight = activity.request_started();
        request
            .extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(remote));
        normalize(&mut request, scheme);
        let response = app.clone().oneshot(request);
        async move {
            let response = response.await?;
            Ok(response.map(|body| {
                Body::new(Tracked {
                    body,
                    _in_flight: in_flight,
                })
            }))
        }
    })
}

/// The first byte of a TLS connection: a handshake record's content type.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The service of plain http on the https port: each request is sent to the same
/// address over https (`308`, the method kept); without a usable `Host`, a `400`
/// that says to use https.
fn to_https() -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = hyper::Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<hyper::Response<Body>, Infallible>> + Send,
> + Clone
+ Send
+ 'static {
    hyper::service::service_fn(|request: hyper::Request<Incoming>| async move {
        use axum::http::{HeaderValue, StatusCode, header};
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| h.parse::<axum::http::uri::Authority>().is_ok());
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let location = host
            .map(|host| format!("https://{host}{path}"))
            .and_then(|url| HeaderValue::from_str(&url).ok());
        let mut response = match location {
            Some(location) => {
                let text = format!(
                    "This helper speaks https: {}\n",
                    location.to_str().unwrap_or_default()
                );
                let mut response = hyper::Response::new(Body::from(text));
                *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
                response.headers_mut().insert(header::LOCATION, location);
                response
            }
            None => {
                let mut response =
                    hyper::Response::new(Body::from("This helper speaks https only.\n"));
                *response.status_mut() = StatusCode::BAD_REQUEST;
                response
            }
        };
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        Ok(response)
    })
}

/// Serves one connection until it ends, the server shuts down (gracefully), or
/// `closing` says it has served nothing for too long (then it is dropped: closed).
async fn drive<I, S>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    service: S,
    watcher: Watcher,
    closing: Pin<&mut impl Future<Output = Closing>>,
    remote: SocketAddr,
    send_timeout: Duration,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<Incoming>,
            Response = hyper::Response<Body>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(SendTimeout::new(io, send_timeout)), service)
        .into_owned();
    tokio::select! {
        result = watcher.watch(connection) => {
            if let Err(err) = result {
                tracing::debug!(error = %err, %remote, "connection ended with an error");
            }
        }
        why = closing => tracing::debug!(%remote, ?why, "closing the connection"),
    }
}

/// A connection's socket (or TLS stream) whose writes fail once one has made no
/// progress for `timeout`: a client that stopped reading gets its connection
/// closed instead of holding it, and the response behind it, for ever. A write
/// that goes through restarts the clock, so a slow but steady reader is served.
struct SendTimeout<I> {
    io: I,
    timeout: Duration,
    /// Armed when a write is first refused, disarmed when one goes through.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<I> SendTimeout<I> {
    fn new(io: I, timeout: Duration) -> Self {
        SendTimeout {
            io,
            timeout,
            stalled: None,
        }
    }

    /// What a write answered, with the clock run: pending for longer than the
    /// timeout becomes an error.
    fn clocked<T>(
        &mut self,
        cx: &mut TaskContext<'_>,
        answer: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if answer.is_ready() {
            self.stalled = None;
            return answer;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for SendTimeout<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for SendTimeout<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let answer = Pin::new(&mut self.io).poll_write(cx, buf);
        self.clocked(cx, answer)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let answer = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.clocked(cx, answer)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        let answer = Pin::new(&mut self.io).poll_flush(cx);
        self.clocked(cx, answer)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        let answer = Pin::new(&mut self.io).poll_shutdown(cx);
        self.clocked(cx, answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HTTP/2 peer that opens a request (which never completes) and then goes
    /// silent, not even answering pings: the request keeps the first-request and
    /// idle timers stopped, so only the keep-alive ping closes the connection.
    #[tokio::test]
    async fn an_http2_peer_that_stops_answering_pings_is_closed_mid_request() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/hang", axum::routing::get(std::future::pending::<()>));
        let keep_alive = Duration::from_millis(200);
        let options = ServeOptions {
            first_request_timeout: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(600),
            http2_keep_alive_interval: keep_alive,
            http2_keep_alive_timeout: keep_alive,
            ..ServeOptions::default()
        };
        tokio::spawn(serve(listener, app, options, std::future::pending()));

        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]); // SETTINGS, empty
        // HEADERS, stream 1, END_STREAM | END_HEADERS: GET http://a/hang (HPACK:
        // :method GET, :scheme http, :path "/hang", :authority "a").
        let block = [&[0x82, 0x86, 0x44, 5][..], b"/hang", &[0x41, 1], b"a"].concat();
        let length = u8::try_from(block.len()).unwrap();
        bytes.extend_from_slice(&[0, 0, length, 0x1, 0x5, 0, 0, 0, 1]);
        bytes.extend_from_slice(&block);
        stream.write_all(&bytes).await.unwrap();

        let started = std::time::Instant::now();
        let mut buffer = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => panic!("still open 10 s after the peer went silent"),
            }
        }
        let elapsed = started.elapsed();
        assert!(
            (keep_alive..Duration::from_secs(5)).contains(&elapsed),
            "closed after {elapsed:?}"
        );
    }

    /// A body of `chunks` MiB of zeros that says when it is dropped (its connection
    /// closed) on `dropped`.
    fn endless_body(dropped: tokio::sync::mpsc::Sender<()>) -> Body {
        struct Guard(tokio::sync::mpsc::Sender<()>);
        impl Drop for Guard {
            fn drop(&mut self) {
                let _ = self.0.try_send(());
            }
        }
        let guard = Guard(dropped);
        let chunk = Bytes::from(vec![0u8; 1 << 20]);
        Body::from_stream(futures_util::stream::repeat_with(move || {
            let _ = &guard;
            Ok::<_, Infallible>(chunk.clone())
        }))
    }

    /// A client that asks for a large response and then reads nothing more, over
    /// HTTP/1 and over HTTP/2 (a window wide open, so its socket fills): the
    /// connection is closed after the send timeout, and the response dropped.
    #[tokio::test]
    async fn a_client_that_stops_reading_is_closed_after_the_send_timeout() {
        use tokio::io::AsyncWriteExt;

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (dropped_tx, mut dropped) = tokio::sync::mpsc::channel(4);
        let app = Router::new().route(
            "/big",
            axum::routing::get(move || {
                let dropped = dropped_tx.clone();
                async move { endless_body(dropped) }
            }),
        );
        let send = Duration::from_millis(500);
        let options = ServeOptions {
            first_request_timeout: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(600),
            send_timeout: send,
            ..ServeOptions::default()
        };
        tokio::spawn(serve(listener, app, options, std::future::pending()));

        let http1 = b"GET /big HTTP/1.1\r\nhost: a\r\n\r\n".to_vec();
        let mut http2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        // SETTINGS: INITIAL_WINDOW_SIZE 2^31-1; WINDOW_UPDATE of the connection by
        // as much; HEADERS, stream 1, END_STREAM | END_HEADERS: GET http://a/big.
        http2.extend_from_slice(&[0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff]);
        http2.extend_from_slice(&[0, 0, 4, 0x8, 0, 0, 0, 0, 0, 0x7f, 0xff, 0, 0]);
        let block = [&[0x82, 0x86, 0x44, 4][..], b"/big", &[0x41, 1], b"a"].concat();
        let length = u8::try_from(block.len()).unwrap();
        http2.extend_from_slice(&[0, 0, length, 0x1, 0x5, 0, 0, 0, 1]);
        http2.extend_from_slice(&block);
        for (version, request) in [("HTTP/1", http1), ("HTTP/2", http2)] {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(&request).await.unwrap();
            let started = std::time::Instant::now();
            tokio::time::timeout(Duration::from_secs(20), dropped.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("{version}: still sending 20 s after the client stopped reading")
                });
            let elapsed = started.elapsed();
            assert!(elapsed >= send, "{version}: closed after {elapsed:?}");
        }
    }

    /// A client reading slowly but steadily is not a stalled one: every write that
    /// goes through restarts the send timer.
    #[tokio::test]
    async fn a_slow_but_steady_reader_is_served_to_the_end() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let size: usize = 32 << 20;
        let app = Router::new().route(
            "/big",
            axum::routing::get(move || async move { vec![7u8; size] }),
        );
        let send = Duration::from_millis(500);
        let options = ServeOptions {
            send_timeout: send,
            ..ServeOptions::default()
        };
        tokio::spawn(serve(listener, app, options, std::future::pending()));
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /big HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        // At most 256 KiB every 10 ms: the 32 MiB cannot hide in socket buffers, so
        // the server's writes wait, again and again, for well over the send
        // timeout in all. (A socket takes writes again only once a third of its
        // buffer, up to a few MiB, has drained: a reader far slower than this one
        // needs a send timeout longer than that drain, as the 60 s default is.)
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut buffer = vec![0u8; 256 << 10];
        let mut total = 0;
        let started = std::time::Instant::now();
        loop {
            tick.tick().await;
            match stream.read(&mut buffer).await.unwrap() {
                0 => break,
                n => total += n,
            }
        }
        assert!(
            total > size,
            "read {total} of {size} body bytes and headers"
        );
        assert!(
            started.elapsed() > send * 2,
            "the reads were not slow: {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn http2_authority_becomes_the_host_and_the_scheme_is_ours() {
        let mut request = hyper::Request::get("https://nas.local:8443/api/config")
            .header("x-forwarded-proto", "http")
            .body(())
            .unwrap();
        normalize(&mut request, "https");
        assert_eq!(request.headers()["host"], "nas.local:8443");
        assert_eq!(
            request.headers()["x-forwarded-proto"],
            "https",
            "a client's claim is replaced"
        );
        let mut request = hyper::Request::get("/api/config")
            .header("host", "127.0.0.1:8080")
            .body(())
            .unwrap();
        normalize(&mut request, "http");
        assert_eq!(
            request.headers()["host"],
            "127.0.0.1:8080",
            "an HTTP/1 Host stays"
        );
    }
}
