//! The accept loop: plain TCP or TLS (rustls), HTTP/1 and HTTP/2, with a
//! header-read timeout (hyper needs a timer for it, which `axum::serve` does not
//! install), the client's address for every request (`ConnectInfo`, used by the
//! sign-in brake), and a graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::config::TlsFiles;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How to serve.
#[derive(Clone)]
pub struct ServeOptions {
    /// TLS, when the helper serves https.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
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
    builder.http2().timer(TokioTimer::new());
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
        let app = app.clone();
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(remote));
            normalize(&mut request, scheme);
            app.clone().oneshot(request)
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let result = match acceptor {
                None => {
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    watcher.watch(connection).await
                }
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(err)) => {
                            tracing::debug!(error = %err, %remote, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%remote, "TLS handshake timed out");
                            return;
                        }
                    };
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(tls), service)
                        .into_owned();
                    watcher.watch(connection).await
                }
            };
            if let Err(err) = result {
                tracing::debug!(error = %err, %remote, "connection ended with an error");
            }
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

#[cfg(test)]
mod tests {
    use super::*;

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
