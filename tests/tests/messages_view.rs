//! The unified messages view: channels, deleted placeholders, search.

use integration_tests::{TestStack, fixture, whatsapp_text};
use shared::model::Provider;

const MAYA: &str = "447700900123";

fn bodies(page: &serde_json::Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["placeholder"]
                .as_str()
                .or(m["body"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn messages_of_all_channels_filtered_and_searched() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let sms = stack.connection("salon", Provider::TwilioSms).await;
    let texts = [
        "Do you do balayage?",
        "Can I book for Saturday morning?",
        "Crème rinse or café colour?",
        "See you Saturday",
    ];
    for (i, text) in texts.iter().enumerate() {
        stack
            .post_whatsapp(
                &whatsapp,
                &whatsapp_text(&format!("w{i}"), MAYA, 1_792_570_000 + i as i64, text),
            )
            .await;
    }
    stack
        .post_sms(&sms, "", b"MessageSid=SM1&From=%2B447700900123&To=%2B447700900200&Body=Parking+on+Saturday%3F&NumMedia=0")
        .await;
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let token = stack.token("salon", "agent");
    let get = |query: &str| {
        let path = format!("/contacts/{contact}/messages{query}");
        let token = token.clone();
        let stack = &stack;
        async move {
            let reply = stack.get(&path, &token).await;
            assert_eq!(reply.status, 200, "{path}: {reply:?}");
            reply.json()
        }
    };

    assert_eq!(
        bodies(&get("?channels=sms").await),
        ["Parking on Saturday?"]
    );
    assert_eq!(get("").await["items"].as_array().unwrap().len(), 5);

    let saturday = get("?q=SATURDAY").await;
    assert_eq!(
        bodies(&saturday),
        [
            "Parking on Saturday?",
            "See you Saturday",
            "Can I book for Saturday morning?"
        ]
    );
    // The match is marked in the original text.
    assert_eq!(
        saturday["items"][1]["matches"][0],
        serde_json::json!([8, 16])
    );

    let phrase = get("?q=%22book+for+saturday%22").await;
    assert_eq!(bodies(&phrase), ["Can I book for Saturday morning?"]);
    let accents = get("?q=creme+cafe").await;
    assert_eq!(bodies(&accents), ["Crème rinse or café colour?"]);
    let mixed = get("?q=saturday&channels=whatsapp&limit=1").await;
    assert_eq!(bodies(&mixed), ["See you Saturday"]);
    let cursor = mixed["next_cursor"].as_str().expect("more matches");
    let rest = get(&format!(
        "?q=saturday&channels=whatsapp&limit=1&cursor={cursor}"
    ))
    .await;
    assert_eq!(bodies(&rest), ["Can I book for Saturday morning?"]);
}

#[tokio::test]
async fn an_unsent_message_shows_as_deleted() {
    let stack = TestStack::new().await;
    let instagram = stack.connection("salon", Provider::Instagram).await;
    for name in ["message.json", "image_message.json", "deleted.json"] {
        stack
            .post_instagram(&instagram, &fixture(&format!("instagram/{name}")))
            .await;
    }
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let page = stack
        .get(
            &format!("/contacts/{contact}/messages"),
            &stack.token("salon", "agent"),
        )
        .await
        .json();
    assert_eq!(bodies(&page)[0], "[Message deleted]");
    assert!(page["items"][0].get("attachments").is_none());
}
