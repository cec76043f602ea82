//! What staff add to a timeline themselves: internal notes, lead-stage
//! changes, merges and splits.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use ulid::Ulid;

use super::AuditEntry;
use super::events::EventItem;
use super::{Attempt, Store, StoreError, lost_race, optimistic, s, settle};
use crate::identity::Identity;
use crate::keys;
use crate::model::{EventDetail, IdentityLink, Note, StageChange, TimelineEvent};

impl Store {
    /// Adds an internal note (staff-only) to the contact's timeline.
    #[tracing::instrument(skip(self, body))]
    pub async fn add_note(
        &self,
        tenant: &str,
        contact: &str,
        author_user_id: &str,
        body: &str,
    ) -> Result<TimelineEvent, StoreError> {
        let event = staff_event(
            contact,
            EventDetail::Note(Note {
                author_user_id: author_user_id.to_string(),
                body: body.to_string(),
            }),
        );
        self.put_staff_event(tenant, &event).await?;
        Ok(event)
    }

    /// Puts a staff event once: a retry with the same id finds it there.
    async fn put_staff_event(&self, tenant: &str, event: &TimelineEvent) -> Result<(), StoreError> {
        let item = EventItem::new(tenant, event.clone(), Vec::new());
        let put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Err(e) if !lost_race(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Moves the contact to `stage` and records the change on its timeline,
    /// atomically. `None` when the contact is already at that stage.
    #[tracing::instrument(skip(self))]
    pub async fn change_stage(
        &self,
        tenant: &str,
        contact: &str,
        stage: &str,
        by_user_id: &str,
    ) -> Result<Option<TimelineEvent>, StoreError> {
        optimistic(
            || keys::contact_pk(tenant, contact),
            || async move {
                let Some(view) = self.contact(tenant, contact).await? else {
                    return Ok(Attempt::Done(None));
                };
                let from = view.profile.stage;
                if from.as_deref() == Some(stage) {
                    return Ok(Attempt::Done(None));
                }
                let event = staff_event(
                    contact,
                    EventDetail::StageChange(StageChange {
                        from: from.clone(),
                        to: stage.to_string(),
                        by_user_id: by_user_id.to_string(),
                    }),
                );
                let mut update = Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(keys::contact_pk(tenant, contact)))
                    .key("sk", s(keys::PROFILE_SK))
                    .update_expression("SET stage = :to")
                    .expression_attribute_values(":to", s(stage));
                // Only from the stage we read: a concurrent change makes us re-read.
                update = match &from {
                    Some(from) => update
                        .condition_expression("stage = :from")
                        .expression_attribute_values(":from", s(from)),
                    None => update.condition_expression(
                        "attribute_exists(pk) AND attribute_not_exists(stage)",
                    ),
                };
                let update = update
                    .build()
                    .map_err(|e| StoreError::Dynamo(e.to_string()))?;
                let item = EventItem::new(tenant, event.clone(), Vec::new());
                let result = self
                    .db
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().update(update).build())
                    .transact_items(self.put_new(serde_dynamo::to_item(item)?)?)
                    .send()
                    .await;
                Ok(settle(result)?.map(|_| Some(event)))
            },
        )
        .await
    }
}

impl Store {
    /// Staff merge `other` into `contact`: everything of `other` moves, the
    /// merge is recorded on the timeline and in the audit log. `None` when
    /// either contact does not exist. Repeating a merge (cut short, or done)
    /// finishes it and answers with the same record, written once.
    #[tracing::instrument(skip(self))]
    pub async fn merge_by_staff(
        &self,
        tenant: &str,
        contact: &str,
        other: &str,
        by_user_id: &str,
    ) -> Result<Option<TimelineEvent>, StoreError> {
        if !self.contact_exists(tenant, contact).await? {
            return Ok(None);
        }
        // Boxed: merges and splits are deep futures, kept off the caller's stack.
        let Some(merge) = Box::pin(self.merge(tenant, other, contact, Some(by_user_id))).await?
        else {
            return Ok(None);
        };
        // Named after the merge (its id minted when it began), by whoever began it.
        let merge_id = Ulid::from_string(&merge.merge_id)
            .map_err(|e| StoreError::Dynamo(format!("merge id {}: {e}", merge.merge_id)))?;
        let by = merge.merged_by.unwrap_or_else(|| by_user_id.to_string());
        let event = staff_event_as(
            contact,
            EventDetail::IdentityLink(IdentityLink {
                action: "merge".into(),
                other_contact_id: other.to_string(),
                identities: merge.merged_identities,
                by_user_id: by.clone(),
            }),
            merge_id,
        );
        self.put_staff_event(tenant, &event).await?;
        let entry = AuditEntry {
            at: event.occurred_at,
            actor_user_id: by,
            action: "merge".into(),
            contact_id: contact.to_string(),
            detail: format!("contact {other} merged into {contact}"),
        };
        self.record_audit_once(tenant, entry, merge_id).await?;
        // As first recorded (a repeat's own copy differs in `recorded_at`).
        let item = EventItem::new(tenant, event.clone(), Vec::new());
        Ok(Some(match self.get(&item.pk, &item.sk).await? {
            Some(stored) => serde_dynamo::from_item::<_, EventItem>(stored)?.event,
            None => event,
        }))
    }
}

impl Store {
    /// Staff split `identities` (held by `contact`, not all of them) and
    /// their events off into a new contact; recorded on both timelines and in
    /// the audit log. Returns the new contact's id and the change on
    /// `contact`'s timeline.
    #[tracing::instrument(skip(self, identities, display_name))]
    pub async fn split_by_staff(
        &self,
        tenant: &str,
        contact: &str,
        identities: &[Identity],
        display_name: Option<&str>,
        by_user_id: &str,
    ) -> Result<(String, TimelineEvent), StoreError> {
        let new_contact =
            Box::pin(self.split_contact(tenant, contact, identities, display_name)).await?;
        // The records of the split are named after the new contact (its id
        // is a ULID minted when the split began), so a retry that finishes
        // an interrupted split writes each of them once.
        let split_id = Ulid::from_string(&new_contact)
            .map_err(|e| StoreError::Dynamo(format!("contact id {new_contact}: {e}")))?;
        let link = |action: &str, other: &str| IdentityLink {
            action: action.into(),
            other_contact_id: other.to_string(),
            identities: identities.to_vec(),
            by_user_id: by_user_id.to_string(),
        };
        let change = staff_event_as(
            contact,
            EventDetail::IdentityLink(link("split", &new_contact)),
            split_id,
        );
        self.put_staff_event(tenant, &change).await?;
        let arrival = staff_event_as(
            &new_contact,
            EventDetail::IdentityLink(link("split_from", contact)),
            split_id,
        );
        self.put_staff_event(tenant, &arrival).await?;
        let entry = AuditEntry {
            at: change.occurred_at,
            actor_user_id: by_user_id.to_string(),
            action: "split".into(),
            contact_id: contact.to_string(),
            detail: format!(
                "{} identities of {contact} moved to new contact {new_contact}",
                identities.len()
            ),
        };
        self.record_audit_once(tenant, entry, split_id).await?;
        self.finish_split(tenant, &new_contact).await?;
        Ok((new_contact, change))
    }
}

fn staff_event(contact: &str, detail: EventDetail) -> TimelineEvent {
    staff_event_as(contact, detail, Ulid::new())
}

/// A staff event with the given id, at the instant the id was minted.
fn staff_event_as(contact: &str, detail: EventDetail, id: Ulid) -> TimelineEvent {
    TimelineEvent {
        event_id: id.to_string(),
        contact_id: contact.to_string(),
        occurred_at: DateTime::<Utc>::from(id.datetime()),
        recorded_at: Utc::now(),
        channel: None,
        provider: None,
        provider_ref: None,
        detail,
    }
}
