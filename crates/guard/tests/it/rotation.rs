//! `postern keys rotate`: the new key is picked up through an unknown-`kid` refetch of Postern's
//! `/jwks.json`, at most once per cooldown; tokens of the old key keep working.

use crate::support::{Harness, LIST};

#[tokio::test]
async fn rotated_key_is_picked_up_by_an_unknown_kid_refetch_after_the_cooldown() {
    let h = Harness::start().await;
    let old_token = h.mint("mcp:read");
    assert_eq!(h.call_with(&old_token, LIST).await.status, 200);

    let new_kid = h.rotate_keys().await;
    let new_token = h.mint("mcp:read");
    let header = jsonwebtoken::decode_header(&new_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    let published = h.get(&format!("{}/jwks.json", h.issuer)).await.json();
    assert_eq!(published["keys"].as_array().unwrap().len(), 2, "old and new key are both published");

    // Within the cooldown of the first fetch, an unknown kid does not reach Postern.
    let reply = h.call_with(&new_token, LIST).await;
    assert_eq!(reply.status, 401);
    assert!(reply.challenge().contains("key the authorization server does not publish"), "{}", reply.challenge());

    // Once the cooldown has passed, the unknown kid triggers a refetch that finds the new key.
    h.clock.advance(30);
    assert_eq!(h.call_with(&new_token, LIST).await.status, 200);
    // Tokens signed before the rotation stay valid until they expire.
    assert_eq!(h.call_with(&old_token, LIST).await.status, 200);
}
