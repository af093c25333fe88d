//! An upload's body with the helper's limits applied as it streams: at most
//! `max` bytes, and never silent for longer than `idle` (a client that stops
//! sending must not hold a socket and a temp file forever).

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// Why an upload body was cut off.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More bytes than allowed.
    #[error("the upload is larger than allowed")]
    TooLarge,
    /// No data for the idle timeout.
    #[error("the upload stalled for {} s", .0.as_secs())]
    Stalled(Duration),
    /// The connection broke.
    #[error(transparent)]
    Broken(#[from] axum::Error),
}

/// `body`, ending with an error past `max` bytes or after `idle` without data.
pub fn limited<S>(
    body: S,
    max: u64,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, BodyError>> + Unpin + Send
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Unpin + Send,
{
    struct State<S> {
        body: S,
        seen: u64,
        done: bool,
    }
    Box::pin(futures_util::stream::unfold(
        State {
            body,
            seen: 0,
            done: false,
        },
        move |mut state| async move {
            if state.done {
                return None;
            }
            let next = match tokio::time::timeout(idle, state.body.next()).await {
                Err(_) => Err(BodyError::Stalled(idle)),
                Ok(None) => return None,
                Ok(Some(Err(err))) => Err(BodyError::Broken(err)),
                Ok(Some(Ok(chunk))) => {
                    state.seen += chunk.len() as u64;
                    if state.seen > max {
                        Err(BodyError::TooLarge)
                    } else {
                        Ok(chunk)
                    }
                }
            };
            state.done = next.is_err();
            Some((next, state))
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(sizes: &[usize]) -> impl Stream<Item = Result<Bytes, axum::Error>> + Unpin + Send {
        futures_util::stream::iter(
            sizes
                .iter()
                .map(|&n| Ok(Bytes::from(vec![0u8; n])))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn a_body_within_the_limit_passes_whole() {
        let out: Vec<_> = limited(chunks(&[3, 4]), 7, Duration::from_secs(5))
            .collect()
            .await;
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(Result::is_ok));
    }

    #[tokio::test]
    async fn a_body_past_the_limit_ends_with_too_large() {
        let out: Vec<_> = limited(chunks(&[3, 4, 5]), 6, Duration::from_secs(5))
            .collect()
            .await;
        assert_eq!(out.len(), 2, "nothing after the error");
        assert!(matches!(out[1], Err(BodyError::TooLarge)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_body_stalls() {
        let silent = futures_util::stream::pending::<Result<Bytes, axum::Error>>();
        let out: Vec<_> = limited(silent, 10, Duration::from_secs(60)).collect().await;
        assert!(matches!(out[..], [Err(BodyError::Stalled(_))]));
    }
}
