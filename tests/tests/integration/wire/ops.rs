//! Operations the pipeline tests send by hand through `Client::operation`, as the generated
//! methods declare them, so that what a test asserts does not hide behind a generated method.

use http::Method;
use posthog_api::Operation;

/// `GET /api/projects/{project_id}/feature_flags/`, scope `feature_flag:read`.
pub static FLAGS_LIST: Operation = Operation::private(
    "feature_flags_list",
    Method::GET,
    "/api/projects/{project_id}/feature_flags/",
    "feature_flags",
    &["feature_flag:read"],
    &[],
);

/// `POST /api/projects/{project_id}/feature_flags/`, scope `feature_flag:write`.
pub static FLAGS_CREATE: Operation = Operation::private(
    "feature_flags_create",
    Method::POST,
    "/api/projects/{project_id}/feature_flags/",
    "feature_flags",
    &["feature_flag:write"],
    &[],
);
