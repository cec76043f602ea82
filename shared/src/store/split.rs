//! Splitting a contact: chosen identities, and the events that arrived
//! through them, move to a new contact. This is how a merge is undone.

use chrono::Utc;
use ulid::Ulid;

use super::events::EventItem;
use super::{Item, Store, StoreError, s};
use crate::identity::Identity;
use crate::keys;

impl Store {
    /// Moves `identities` (held by `from`) and their events to a new contact
    /// named `display_name`; returns its id. The new contact stays unlisted
    /// until `finish_split`, and a retry after a crash continues into it.
    /// Identities move first, so deliveries from then on land on the new
    /// contact; events that still arrive on `from` meanwhile are swept up by
    /// repeated passes.
    #[tracing::instrument(skip(self, identities, display_name))]
    pub async fn split_contact(
        &self,
        tenant: &str,
        from: &str,
        identities: &[Identity],
        display_name: Option<&str>,
    ) -> Result<String, StoreError> {
        let links: Vec<_> = self
            .identity_links(tenant, from)
            .await?
            .into_iter()
            .filter(|link| identities.contains(&link.identity))
            .collect();
        let into = match self.unfinished_split(tenant, from, identities).await? {
            Some(into) => into,
            None => {
                let into = Ulid::new().to_string();
                let latest = self
                    .events_via(tenant, from, identities)
                    .await?
                    .iter()
                    .map(|e| e.event.occurred_at)
                    .max();
                self.create_split_profile(
                    tenant,
                    &into,
                    display_name,
                    latest.unwrap_or_else(Utc::now),
                    from,
                )
                .await?;
                into
            }
        };
        for link in &links {
            self.move_identity(tenant, link, from, &into).await?;
        }
        loop {
            let moving = self.events_via(tenant, from, identities).await?;
            if moving.is_empty() {
                break;
            }
            for event in moving {
                self.move_event(tenant, event, &into).await?;
            }
        }
        self.rebuild_metrics(tenant, from).await?;
        self.rebuild_metrics(tenant, &into).await?;
        Ok(into)
    }

    /// The contact an earlier split of (some of) `identities` from `from`
    /// created and did not finish (cut short by a crash or a timeout): a
    /// retry continues into it.
    pub async fn unfinished_split(
        &self,
        tenant: &str,
        from: &str,
        identities: &[Identity],
    ) -> Result<Option<String>, StoreError> {
        for identity in identities {
            if let Some(owner) = self.identity_owner(tenant, identity).await?
                && owner != from
                && self.unfinished_split_from(tenant, &owner).await?.as_deref() == Some(from)
            {
                return Ok(Some(owner));
            }
        }
        Ok(None)
    }

    /// The events of `contact` that arrived through one of `identities`.
    async fn events_via(
        &self,
        tenant: &str,
        contact: &str,
        identities: &[Identity],
    ) -> Result<Vec<EventItem>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .events_query(tenant, contact)
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            for item in out.items.unwrap_or_default() {
                let event: EventItem = serde_dynamo::from_item(item)?;
                if event
                    .via
                    .as_ref()
                    .is_some_and(|via| identities.contains(via))
                {
                    found.push(event);
                }
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(found),
            }
        }
    }

    pub(super) fn events_query(
        &self,
        tenant: &str,
        contact: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :ev)")
            .expression_attribute_values(":pk", s(keys::contact_pk(tenant, contact)))
            .expression_attribute_values(":ev", s(keys::EVENT_SK_PREFIX))
            .consistent_read(true)
    }
}
