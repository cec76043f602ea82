//! The first end-to-end slice: a WhatsApp webhook reaches the contact's
//! timeline through ingest -> SQS -> normalize -> DynamoDB -> query API.

use integration_tests::{TestStack, VERIFY_TOKEN, fixture, whatsapp_text};

#[tokio::test]
async fn fixture_webhook_reaches_the_timeline() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;

    let reply = stack
        .post_whatsapp(&connection, &fixture("whatsapp/text_message.json"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        stack.queue_depth("IngestQueue").await,
        1,
        "queued before 200"
    );

    assert_eq!(stack.drain().await, 1);
    assert_eq!(
        stack.queue_depth("IngestQueue").await,
        0,
        "deleted once processed"
    );

    let contact = stack.only_contact("salon").await;
    let profile = stack
        .get(
            &format!("/contacts/{contact}"),
            &stack.token("salon", "admin"),
        )
        .await
        .json();
    assert_eq!(profile["display_name"], "Maya López");
    assert_eq!(profile["identities"][0]["kind"], "phone");
    assert_eq!(profile["identities"][0]["value"], "+447700900123");

    let timeline = stack.timeline("salon", &contact, "").await;
    let items = timeline["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let event = &items[0];
    assert_eq!(event["type"], "message");
    assert_eq!(event["channel"], "whatsapp");
    assert_eq!(event["direction"], "inbound");
    assert_eq!(event["author"]["kind"], "customer");
    assert_eq!(event["occurred_at"], "2026-10-21T08:14:01Z");
    assert_eq!(
        event["provider_ref"],
        "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUQjE0QTdBNkQxOTZFQURENTcwMzYA"
    );
    assert!(
        event["body"]
            .as_str()
            .unwrap()
            .starts_with("Hi, it's Maya from Instagram 😊")
    );
    assert!(timeline["next_cursor"].is_null());
}

#[tokio::test]
async fn timeline_is_newest_first_and_cursor_paginated() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    // Delivered out of order; the timeline orders by the provider's instant.
    for (i, ts) in [
        1_792_570_300,
        1_792_570_100,
        1_792_570_500,
        1_792_570_200,
        1_792_570_400,
    ]
    .iter()
    .enumerate()
    {
        let body = whatsapp_text(
            &format!("wamid.page{i}"),
            "447700900123",
            *ts,
            &format!("m{ts}"),
        );
        assert_eq!(stack.post_whatsapp(&connection, &body).await.status, 200);
    }
    assert_eq!(stack.drain().await, 5);
    let contact = stack.only_contact("salon").await;

    let mut seen = Vec::new();
    let mut query = "?limit=2".to_string();
    let mut pages = 0;
    loop {
        let page = stack.timeline("salon", &contact, &query).await;
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|e| e["body"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        [
            "m1792570500",
            "m1792570400",
            "m1792570300",
            "m1792570200",
            "m1792570100"
        ]
    );

    let oldest = stack
        .timeline("salon", &contact, "?order=oldest&limit=1")
        .await;
    assert_eq!(oldest["items"][0]["body"], "m1792570100");
    // Business-local time with its offset (UTC tenant by default).
    assert_eq!(
        oldest["items"][0]["local_time"],
        "2026-10-21T08:08:20+00:00"
    );
}

#[tokio::test]
async fn timeline_rejects_bad_parameters_and_foreign_cursors() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    for (i, from) in ["447700900123", "447700900999"].iter().enumerate() {
        let body = whatsapp_text(&format!("wamid.c{i}"), from, 1_792_570_000 + i as i64, "hi");
        stack.post_whatsapp(&connection, &body).await;
        let body = whatsapp_text(&format!("wamid.d{i}"), from, 1_792_570_100 + i as i64, "hi");
        stack.post_whatsapp(&connection, &body).await;
    }
    stack.drain().await;
    let token = stack.token("salon", "admin");
    let contacts = stack.get("/contacts", &token).await.json();
    let ids: Vec<&str> = contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["contact_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);

    let first = stack.timeline("salon", ids[0], "?limit=1").await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let foreign = stack
        .get(
            &format!("/contacts/{}/timeline?cursor={cursor}", ids[1]),
            &token,
        )
        .await;
    assert_eq!(foreign.status, 400);
    assert_eq!(foreign.content_type, "application/problem+json");
    assert_eq!(foreign.json()["field"], "cursor");

    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?order=up", "order"),
        ("?cursor=%%%", "cursor"),
    ] {
        let reply = stack
            .get(&format!("/contacts/{}/timeline{query}", ids[0]), &token)
            .await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.json()["field"], field, "{query}");
    }
}

#[tokio::test]
async fn contacts_are_scoped_to_the_token_tenant() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    stack
        .post_whatsapp(&connection, &fixture("whatsapp/text_message.json"))
        .await;
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let path = format!("/contacts/{contact}/timeline");

    let rival = stack.get(&path, &stack.token("rival", "admin")).await;
    assert_eq!(rival.status, 404, "another tenant's contact looks missing");
    let missing = stack
        .get(
            "/contacts/01J00000000000000000000000/timeline",
            &stack.token("salon", "admin"),
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(rival.json()["detail"], missing.json()["detail"]);
    let not_an_id = stack
        .get(
            "/contacts/x%23C%23y/timeline",
            &stack.token("salon", "admin"),
        )
        .await;
    assert_eq!(not_an_id.status, 404);
    let rival_list = stack
        .get("/contacts", &stack.token("rival", "admin"))
        .await
        .json();
    assert_eq!(rival_list["items"].as_array().unwrap().len(), 0);

    assert_eq!(stack.request("GET", &path, &[], b"").await.status, 401);
    let forged = stack
        .request(
            "GET",
            &path,
            &[("authorization", "Bearer abc.def.ghi")],
            b"",
        )
        .await;
    assert_eq!(forged.status, 401);
    let agent = stack.get(&path, &stack.token("salon", "agent")).await;
    assert_eq!(agent.status, 200, "agents read timelines");
}

#[tokio::test]
async fn verification_handshake_needs_the_verify_token() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    let path = |token: &str| {
        format!(
            "/webhooks/whatsapp/{connection}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}"
        )
    };
    let ok = stack.request("GET", &path(VERIFY_TOKEN), &[], b"").await;
    assert_eq!(ok.status, 200);
    assert_eq!(&ok.body[..], b"1158201444");
    assert!(ok.content_type.starts_with("text/plain"));

    let wrong = stack.request("GET", &path("guess"), &[], b"").await;
    assert_eq!(wrong.status, 403);
    let unknown = stack
        .request(
            "GET",
            "/webhooks/whatsapp/nope?hub.mode=subscribe&hub.challenge=1&hub.verify_token=test_verify_token",
            &[],
            b"",
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(stack.queue_depth("IngestQueue").await, 0);
}
