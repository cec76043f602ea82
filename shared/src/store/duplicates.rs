//! Likely duplicates: contacts a delivery named together (a booking with one
//! contact's email and another's phone, a chat visitor who typed a known
//! customer's email), an identity claimed on one contact and proven by
//! another, and contacts with the same name and activity close in time.
//! Suggested to staff; never merged automatically.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::contacts::ContactProfile;
use super::{Store, StoreError, s};
use crate::identity::{Assurance, Identity, Named};
use crate::keys;

/// Same-name contacts count as likely the same person when their last
/// activity is this close.
const SAME_NAME_WINDOW_DAYS: i64 = 90;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateSuggestion {
    pub contact: ContactProfile,
    pub reasons: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct HintItem {
    pk: String,
    sk: String,
    other_contact_id: String,
    reason: String,
}

impl Store {
    /// Records, on both contacts, that one delivery named `named` for
    /// `contact` while `other` holds it (or holds it now because it could
    /// not be added to `contact`).
    pub(super) async fn suggest_duplicate(
        &self,
        tenant: &str,
        contact: &str,
        other: &str,
        named: &Named,
    ) -> Result<(), StoreError> {
        let shared = &named.identity;
        let reason = match named.assurance {
            Assurance::Verified => format!(
                "one delivery named this contact together with {} {}",
                shared.kind.as_str(),
                shared.value
            ),
            Assurance::SelfAsserted => format!(
                "one delivery named this contact together with {} {}, \
                 self-asserted (unverified), so it was not linked",
                shared.kind.as_str(),
                shared.value
            ),
        };
        self.put_hints(tenant, contact, other, &reason).await
    }

    /// Records, on both contacts, that `identity` left `claimant` (who held
    /// it by a claim only) for `own` when a delivery proved it.
    pub(super) async fn suggest_superseded_claim(
        &self,
        tenant: &str,
        claimant: &str,
        own: &str,
        identity: &Identity,
    ) -> Result<(), StoreError> {
        let reason = format!(
            "{} {} was claimed (unverified) on one contact and then proven by a \
             delivery from it, which started the other",
            identity.kind.as_str(),
            identity.value
        );
        self.put_hints(tenant, claimant, own, &reason).await
    }

    async fn put_hints(
        &self,
        tenant: &str,
        contact: &str,
        other: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        for (from, to) in [(contact, other), (other, contact)] {
            let item = serde_dynamo::to_item(HintItem {
                pk: keys::contact_pk(tenant, from),
                sk: format!("HINT#{to}"),
                other_contact_id: to.to_string(),
                reason: reason.to_string(),
            })?;
            self.db
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await?;
        }
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    pub async fn duplicate_suggestions(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<Vec<DuplicateSuggestion>, StoreError> {
        let Some(me) = self.contact(tenant, contact).await? else {
            return Ok(Vec::new());
        };
        let mut suggestions: Vec<DuplicateSuggestion> = Vec::new();
        let mut add = |profile: ContactProfile, reason: String| match suggestions
            .iter_mut()
            .find(|s| s.contact.contact_id == profile.contact_id)
        {
            Some(existing) => existing.reasons.push(reason),
            None => suggestions.push(DuplicateSuggestion {
                contact: profile,
                reasons: vec![reason],
            }),
        };
        let hints = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :h)")
            .expression_attribute_values(":pk", s(keys::contact_pk(tenant, contact)))
            .expression_attribute_values(":h", s("HINT#"))
            .send()
            .await?;
        for item in hints.items.unwrap_or_default() {
            let hint: HintItem = serde_dynamo::from_item(item)?;
            // A hint about a contact merged away since is stale.
            if let Some(other) = self.contact(tenant, &hint.other_contact_id).await? {
                add(other.profile, hint.reason);
            }
        }
        if let Some(name) = me.profile.display_name.as_deref() {
            let folded = crate::text::fold(name);
            let mut after = None;
            loop {
                let page = self.contacts_by_activity(tenant, 100, after).await?;
                for other in page.contacts {
                    let close = (other.last_activity_at - me.profile.last_activity_at).abs()
                        <= Duration::days(SAME_NAME_WINDOW_DAYS);
                    let same_name = other
                        .display_name
                        .as_deref()
                        .is_some_and(|n| crate::text::fold(n) == folded);
                    if other.contact_id != contact && same_name && close {
                        add(
                            other,
                            format!(
                                "same name ({name}) and activity within {SAME_NAME_WINDOW_DAYS} days"
                            ),
                        );
                    }
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        Ok(suggestions)
    }
}
