//! Graceful shutdown: stop accepting, let in-flight streams finish in the grace period.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn shutdown_lets_an_in_flight_stream_finish_and_refuses_new_connections() {
    let mock = mock().await;
    mock.hold_streams();
    let gw = start(config_for(&mock)).await;
    let mut response = gw
        .post("/v1/chat/completions", &chat_stream("drain me"))
        .await;
    response.chunk().await.unwrap().expect("first chunk");

    gw.shutdown.cancel();
    // New connections are refused once the listener is closed.
    let refused = tokio::time::timeout(WAIT, async {
        while tokio::net::TcpStream::connect(gw.addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(refused.is_ok(), "listener still accepting after shutdown");

    mock.release_streams(1);
    let rest = read_all(&mut response)
        .await
        .expect("stream finishes cleanly");
    assert!(rest.trim_end().ends_with("data: [DONE]"), "{rest}");
    let stopped = tokio::time::timeout(WAIT, gw.handle).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "gateway did not stop cleanly"
    );
}

#[tokio::test]
async fn shutdown_cuts_streams_still_running_when_the_grace_period_ends() {
    let mock = mock().await;
    mock.hold_streams();
    let mut config = config_for(&mock);
    config.server.shutdown_grace_secs = 1;
    let gw = start(config).await;
    let mut response = gw.post("/v1/chat/completions", &chat_stream("stuck")).await;
    response.chunk().await.unwrap().expect("first chunk");
    gw.shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), gw.handle).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "gateway did not stop after the grace period"
    );
    assert!(
        read_all(&mut response).await.is_err(),
        "the held stream was cut"
    );
}
