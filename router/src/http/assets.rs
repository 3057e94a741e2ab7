//! Static files compiled into the binary: the GraphQL playground (`playground/dist`, served
//! at `GET /graphql` to browsers and under `/playground/`), and any bundle an embedding
//! program mounts the same way (the platform's live UI). Nothing is fetched from a CDN.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use include_dir::{include_dir, Dir};

/// The playground's Vite build (`playground/`: GraphiQL, the explorer, a sign-in helper).
pub static PLAYGROUND: Assets = Assets(&include_dir!("$CARGO_MANIFEST_DIR/../playground/dist"));

/// A directory of built files: `index.html` and content-hashed files under `assets/`.
#[derive(Clone, Copy)]
pub struct Assets(pub &'static Dir<'static>);

impl Assets {
    /// `index.html`, never cached (it names the current hashed assets).
    pub fn index(self) -> Response {
        self.file("index.html")
    }

    /// The file at `path`, or 404. Files under `assets/` have content hashes in their names,
    /// so browsers may keep them for good.
    pub fn file(self, path: &str) -> Response {
        let Some(file) = self.0.get_file(path) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let headers = [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(path)),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::HeaderName::from_static("x-content-type-options"),
                HeaderValue::from_static("nosniff"),
            ),
        ];
        (headers, file.contents()).into_response()
    }

    /// Routes serving `index.html` at `index` and `<prefix>/assets/*` (`prefix` is `""` or
    /// starts with `/`), plus the given top-level files at `<prefix>/<name>`.
    pub fn routes<S: Clone + Send + Sync + 'static>(
        self,
        index: &str,
        prefix: &str,
        files: &[&'static str],
    ) -> axum::Router<S> {
        let mut router =
            axum::Router::new()
                .route(index, get(move || async move { self.index() }))
                .route(
                    &format!("{prefix}/assets/{{*path}}"),
                    get(move |Path(path): Path<String>| async move {
                        self.file(&format!("assets/{path}"))
                    }),
                );
        for &name in files {
            router = router.route(
                &format!("{prefix}/{name}"),
                get(move || async move { self.file(name) }),
            );
        }
        router
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "ttf" => "font/ttf",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_playground_bundle_is_complete_and_served_from_this_router() {
        let index = PLAYGROUND.0.get_file("index.html").expect("index.html");
        let html = index.contents_utf8().expect("UTF-8");
        let mut referenced = 0;
        for part in html
            .split('"')
            .filter(|p| p.starts_with("/playground/assets/"))
        {
            let path = part.trim_start_matches("/playground/");
            assert!(PLAYGROUND.0.get_file(path).is_some(), "{path} is missing");
            referenced += 1;
        }
        assert!(referenced >= 2, "index.html loads its script and styles");
        assert!(
            !html.contains("//cdn") && !html.contains("https://"),
            "nothing from a CDN"
        );
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type("assets/a-1.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("assets/codicon.ttf"), "font/ttf");
        assert_eq!(content_type("README"), "application/octet-stream");
    }
}
