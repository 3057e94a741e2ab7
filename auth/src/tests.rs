use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};

use super::*;

const ISS: &str = "https://accounts.test";
const AUD: &str = "platform";

fn signer() -> TokenSigner {
    TokenSigner::ephemeral(ISS, AUD)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_signed_token_verifies_with_its_jwks() {
    let signer = signer();
    let (token, claims) = signer
        .sign("user-1", chrono::Duration::minutes(15))
        .expect("sign");
    let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
    assert_eq!(verifier.verify(&token).await, Ok(claims.clone()));
    assert_eq!(
        verifier.verify_header(&format!("bearer {token}")).await,
        Ok(claims)
    );
}

#[tokio::test]
async fn expired_tokens_are_rejected() {
    let signer = signer();
    let (token, _) = signer
        .sign("u", chrono::Duration::minutes(-5))
        .expect("sign");
    let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
    assert_eq!(verifier.verify(&token).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn a_token_from_another_key_is_rejected() {
    let (token, _) = signer()
        .sign("u", chrono::Duration::minutes(5))
        .expect("sign");
    let verifier = TokenVerifier::from_jwks(&signer().jwks(), ISS, AUD);
    assert_eq!(verifier.verify(&token).await, Err(AuthError::UnknownKey));

    // Same kid as the trusted key but signed by a different key: the signature fails.
    let trusted = signer();
    let forger = signer();
    let (forged, _) = forger
        .sign("u", chrono::Duration::minutes(5))
        .expect("sign");
    let mut parts: Vec<&str> = forged.split('.').collect();
    let header =
        b64(format!(r#"{{"typ":"JWT","alg":"EdDSA","kid":"{}"}}"#, trusted.kid()).as_bytes());
    parts[0] = &header;
    let verifier = TokenVerifier::from_jwks(&trusted.jwks(), ISS, AUD);
    assert_eq!(
        verifier.verify(&parts.join(".")).await,
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn wrong_issuer_or_audience_is_rejected() {
    let other = TokenSigner::ephemeral("https://evil.test", AUD);
    let (token, _) = other.sign("u", chrono::Duration::minutes(5)).expect("sign");
    let verifier = TokenVerifier::from_jwks(&other.jwks(), ISS, AUD);
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::WrongIssuerOrAudience)
    );
    let other = TokenSigner::ephemeral(ISS, "someone-else");
    let (token, _) = other.sign("u", chrono::Duration::minutes(5)).expect("sign");
    let verifier = TokenVerifier::from_jwks(&other.jwks(), ISS, AUD);
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::WrongIssuerOrAudience)
    );
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let signer = signer();
    let header = b64(format!(r#"{{"alg":"none","kid":"{}"}}"#, signer.kid()).as_bytes());
    let exp = chrono::Utc::now().timestamp() + 600;
    let body = b64(format!(
        r#"{{"sub":"admin","iss":"{ISS}","aud":"{AUD}","exp":{exp},"iat":0,"jti":"x"}}"#
    )
    .as_bytes());
    let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
    for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
        let result = verifier.verify(&token).await;
        assert!(
            matches!(result, Err(AuthError::BadAlgorithm | AuthError::Malformed)),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_rejected() {
    let signer = signer();
    let jwks = signer.jwks();
    let public_x = jwks.keys[0].x.clone();
    let claims = Claims {
        sub: "admin".into(),
        iss: ISS.into(),
        aud: AUD.into(),
        exp: chrono::Utc::now().timestamp() + 600,
        iat: 0,
        jti: "x".into(),
        extra: Default::default(),
    };
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(signer.kid().to_owned());
    for secret in [
        public_x.as_bytes().to_vec(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&public_x)
            .expect("b64"),
    ] {
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))
            .expect("encode");
        let verifier = TokenVerifier::from_jwks(&jwks, ISS, AUD);
        assert_eq!(verifier.verify(&token).await, Err(AuthError::BadAlgorithm));
    }
}

#[tokio::test]
async fn garbage_is_malformed() {
    let verifier = TokenVerifier::from_jwks(&signer().jwks(), ISS, AUD);
    for token in ["", "abc", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"] {
        let result = verifier.verify(token).await;
        assert!(result.is_err(), "{token:?} was accepted");
    }
    assert_eq!(
        verifier.verify_header("Basic dXNlcjpwYXNz").await,
        Err(AuthError::Malformed)
    );
}

#[tokio::test]
async fn tampered_claims_break_the_signature() {
    let signer = signer();
    let (token, _) = signer
        .sign("user-1", chrono::Duration::minutes(5))
        .expect("sign");
    let parts: Vec<&str> = token.split('.').collect();
    let exp = chrono::Utc::now().timestamp() + 600;
    let body = b64(format!(
        r#"{{"sub":"admin","iss":"{ISS}","aud":"{AUD}","exp":{exp},"iat":0,"jti":"x"}}"#
    )
    .as_bytes());
    let tampered = format!("{}.{}.{}", parts[0], body, parts[2]);
    let verifier = TokenVerifier::from_jwks(&signer.jwks(), ISS, AUD);
    assert_eq!(
        verifier.verify(&tampered).await,
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn keys_persist_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keys/jwt.pem");
    let first = TokenSigner::load_or_generate(&path, ISS, AUD).expect("generate");
    let second = TokenSigner::load_or_generate(&path, ISS, AUD).expect("load");
    assert_eq!(first.jwks(), second.jwks());
    let (token, _) = first.sign("u", chrono::Duration::minutes(5)).expect("sign");
    let verifier = TokenVerifier::from_jwks(&second.jwks(), ISS, AUD);
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn remote_jwks_is_fetched_and_cached() {
    let signer = signer();
    let jwks = signer.jwks();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let verifier = TokenVerifier::remote(&format!("http://{addr}/jwks"), ISS, AUD);
    let (token, _) = signer
        .sign("u", chrono::Duration::minutes(5))
        .expect("sign");
    for _ in 0..3 {
        assert!(verifier.verify(&token).await.is_ok());
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Unknown kids do not trigger a refetch storm.
    let (foreign, _) = TokenSigner::ephemeral(ISS, AUD)
        .sign("u", chrono::Duration::minutes(5))
        .expect("sign");
    for _ in 0..5 {
        assert_eq!(verifier.verify(&foreign).await, Err(AuthError::UnknownKey));
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unreachable_jwks_is_reported_not_accepted() {
    let verifier = TokenVerifier::remote("http://127.0.0.1:9/jwks", ISS, AUD);
    let (token, _) = signer()
        .sign("u", chrono::Duration::minutes(5))
        .expect("sign");
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::KeysUnavailable)
    );
}
