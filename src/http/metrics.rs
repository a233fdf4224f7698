use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::Shared;

/// `GET /metrics` in the Prometheus text format.
pub async fn render(State(state): State<Shared>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
