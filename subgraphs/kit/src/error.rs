//! The errors resolvers return, each with a stable `extensions.code`.

use async_graphql::ErrorExtensions;

use crate::store::StoreError;

/// A resolver error. Client-caused variants show their message; `Internal` is logged with its
/// context and masked.
///
/// Deliberately not `Display`: async-graphql converts any `Display` error into a GraphQL error
/// without a code, so resolvers work with `ApiResult` and only this type's `From` impl (which
/// adds the code and masks internals) turns it into a GraphQL error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    Unauthenticated(String),
    Forbidden(String),
    NotFound(String),
    BadUserInput {
        message: String,
        field: Option<String>,
    },
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput { .. } => "BAD_USER_INPUT",
            ApiError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The message shown to clients (internal errors are masked).
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated(m) | ApiError::Forbidden(m) | ApiError::NotFound(m) => {
                m.clone()
            }
            ApiError::BadUserInput { message, .. } => message.clone(),
            ApiError::Internal(_) => "internal server error".to_owned(),
        }
    }

    pub fn unauthenticated() -> Self {
        ApiError::Unauthenticated("sign in to do this".into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden(message.into())
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }

    /// Invalid input naming the offending field (`extensions.field`).
    pub fn bad_input(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadUserInput {
            message: format!("{field}: {}", message.into()),
            field: Some(field.to_owned()),
        }
    }

    pub fn internal(context: impl std::fmt::Display) -> Self {
        ApiError::Internal(context.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<auth::AuthError> for ApiError {
    fn from(e: auth::AuthError) -> Self {
        match e {
            auth::AuthError::KeysUnavailable => ApiError::Internal(e.to_string()),
            other => ApiError::Unauthenticated(other.to_string()),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        let code = e.code();
        if let ApiError::Internal(context) = &e {
            tracing::error!(error = %context, "internal error");
        }
        let message = e.message();
        let field = match &e {
            ApiError::BadUserInput { field, .. } => field.clone(),
            _ => None,
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(field) = field {
                ext.set("field", field);
            }
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
