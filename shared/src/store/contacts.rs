use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::{Item, MAX_ATTEMPTS, Store, StoreError, lost_race, page_query_limit, s, take_page};
use crate::identity::{Identity, IdentityKind};
use crate::keys;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactProfile {
    pub contact_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Compared as a string by the conditional update in `touch_contact`.
    #[serde(with = "keys::fixed_instant")]
    pub last_activity_at: DateTime<Utc>,
    /// The lead stage staff set (one of the business's stages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

/// A profile with the identities it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactView {
    #[serde(flatten)]
    pub profile: ContactProfile,
    pub identities: Vec<Identity>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPage {
    pub contacts: Vec<ContactProfile>,
    /// (last activity sort key, contact id) of the last contact returned.
    pub next: Option<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct ProfileItem {
    pk: String,
    sk: String,
    /// Absent while the contact is not listed yet (a split under way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    gsi1sk: String,
    /// Set while a split from this contact is under way, so a retry of the
    /// split can finish it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    split_from: Option<String>,
    #[serde(flatten)]
    profile: ContactProfile,
}

#[derive(Serialize, Deserialize)]
pub(super) struct IdentityItem {
    pub(super) pk: String,
    pub(super) sk: String,
    pub(super) contact_id: String,
    #[serde(flatten)]
    pub(super) identity: Identity,
}

impl Store {
    /// The contact for a delivery that names several identities of one
    /// person (a chat visitor's email, phone and visitor id; a payer's email
    /// and phone). Unheld identities are added to that contact; an anonymous
    /// contact (visitor ids only) holding one is merged into it. Two contacts
    /// that are both known people are never merged here: that is a
    /// duplicate suggestion for staff.
    #[tracing::instrument(skip_all)]
    pub async fn resolve_contact_with(
        &self,
        tenant: &str,
        primary: &Identity,
        linked: &[Identity],
        display_name: Option<&str>,
        first_seen: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let mut target = self.identity_owner(tenant, primary).await?;
        if target.is_none() {
            let mut anonymous = None;
            for identity in linked {
                let Some(owner) = self.identity_owner(tenant, identity).await? else {
                    continue;
                };
                if self.is_anonymous(tenant, &owner).await? {
                    anonymous.get_or_insert(owner);
                } else {
                    target = Some(owner);
                    break;
                }
            }
            target = target.or(anonymous);
        }
        let contact = match target {
            Some(contact) => {
                self.link_identity(tenant, &contact, primary).await?;
                contact
            }
            None => {
                self.resolve_contact(tenant, primary, display_name, first_seen)
                    .await?
            }
        };
        for identity in linked {
            self.link_identity(tenant, &contact, identity).await?;
        }
        Ok(contact)
    }

    pub(super) async fn identity_owner(
        &self,
        tenant: &str,
        identity: &Identity,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            match self
                .get(&keys::identity_pk(tenant, identity), keys::IDENTITY_SK)
                .await?
            {
                Some(item) => Some(serde_dynamo::from_item::<_, IdentityItem>(item)?.contact_id),
                None => None,
            },
        )
    }

    pub(super) async fn identity_links(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<Vec<IdentityItem>, StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", s(keys::contact_pk(tenant, contact)))
            .expression_attribute_values(":p", s("IDENT#"))
            .consistent_read(true)
            .send()
            .await?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| Ok(serde_dynamo::from_item(item)?))
            .collect()
    }

    /// Known only by anonymous visitor ids.
    async fn is_anonymous(&self, tenant: &str, contact: &str) -> Result<bool, StoreError> {
        let links = self.identity_links(tenant, contact).await?;
        Ok(links
            .iter()
            .all(|l| l.identity.kind == IdentityKind::Visitor))
    }

    /// Gives `identity` to `contact` if nobody holds it.
    async fn link_identity(
        &self,
        tenant: &str,
        contact: &str,
        identity: &Identity,
    ) -> Result<(), StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            match self.identity_owner(tenant, identity).await? {
                Some(owner) if owner == contact => return Ok(()),
                Some(owner) => {
                    if self.is_anonymous(tenant, &owner).await? {
                        // Boxed: a merge is a deep future, kept off the caller's stack.
                        Box::pin(self.merge_contact(tenant, &owner, contact)).await?;
                    } else {
                        // Two known people named together: staff decide.
                        self.suggest_duplicate(tenant, contact, &owner, identity)
                            .await?;
                    }
                    return Ok(());
                }
                None => {
                    let owner = serde_dynamo::to_item(IdentityItem {
                        pk: keys::identity_pk(tenant, identity),
                        sk: keys::IDENTITY_SK.to_string(),
                        contact_id: contact.to_string(),
                        identity: identity.clone(),
                    })?;
                    let link = serde_dynamo::to_item(IdentityItem {
                        pk: keys::contact_pk(tenant, contact),
                        sk: keys::identity_link_sk(identity),
                        contact_id: contact.to_string(),
                        identity: identity.clone(),
                    })?;
                    let result = self
                        .db
                        .transact_write_items()
                        .transact_items(self.put_new(owner)?)
                        .transact_items(self.put(link)?)
                        // A contact being merged away takes no new identity.
                        .transact_items(self.not_merged(tenant, contact)?)
                        .send()
                        .await;
                    match result {
                        Ok(_) => return Ok(()),
                        Err(e) if lost_race(&e) => {
                            self.ensure_not_merged(tenant, contact).await?;
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Err(StoreError::Contention(format!(
            "identity owner ({})",
            identity.kind.as_str()
        )))
    }

    /// The contact holding `identity`, created atomically if nobody holds it:
    /// two first messages racing from one person still make one contact.
    // Identities are personal data: they stay out of logs and spans.
    #[tracing::instrument(skip(self, identity, display_name))]
    pub async fn resolve_contact(
        &self,
        tenant: &str,
        identity: &Identity,
        display_name: Option<&str>,
        first_seen: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let identity_pk = keys::identity_pk(tenant, identity);
        for _ in 0..MAX_ATTEMPTS {
            if let Some(item) = self.get(&identity_pk, keys::IDENTITY_SK).await? {
                return Ok(serde_dynamo::from_item::<_, IdentityItem>(item)?.contact_id);
            }
            let contact_id = Ulid::new().to_string();
            let contact_pk = keys::contact_pk(tenant, &contact_id);
            let owner = serde_dynamo::to_item(IdentityItem {
                pk: identity_pk.clone(),
                sk: keys::IDENTITY_SK.to_string(),
                contact_id: contact_id.clone(),
                identity: identity.clone(),
            })?;
            let link = serde_dynamo::to_item(IdentityItem {
                pk: contact_pk.clone(),
                sk: keys::identity_link_sk(identity),
                contact_id: contact_id.clone(),
                identity: identity.clone(),
            })?;
            let profile = profile_item(tenant, &contact_id, display_name, first_seen, None)?;
            let result = self
                .db
                .transact_write_items()
                .transact_items(self.put_new(owner)?)
                .transact_items(self.put_new(link)?)
                .transact_items(self.put_new(profile)?)
                .send()
                .await;
            match result {
                Ok(_) => return Ok(contact_id),
                Err(e) if lost_race(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Contention(format!(
            "identity owner ({})",
            identity.kind.as_str()
        )))
    }

    /// The contact a split from `split_from` is creating: not listed, and
    /// without identities until the split gives it some.
    pub(super) async fn create_split_profile(
        &self,
        tenant: &str,
        contact: &str,
        display_name: Option<&str>,
        last_activity: DateTime<Utc>,
        split_from: &str,
    ) -> Result<(), StoreError> {
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(profile_item(
                tenant,
                contact,
                display_name,
                last_activity,
                Some(split_from),
            )?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await?;
        Ok(())
    }

    /// Whom an unfinished split is moving identities from into `contact`.
    pub(super) async fn unfinished_split_from(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            match self
                .get(&keys::contact_pk(tenant, contact), keys::PROFILE_SK)
                .await?
            {
                Some(item) => serde_dynamo::from_item::<_, ProfileItem>(item)?.split_from,
                None => None,
            },
        )
    }

    /// Lists a contact a split created, at its current last activity.
    pub(super) async fn finish_split(&self, tenant: &str, contact: &str) -> Result<(), StoreError> {
        let pk = keys::contact_pk(tenant, contact);
        for _ in 0..MAX_ATTEMPTS {
            let Some(item) = self.get(&pk, keys::PROFILE_SK).await? else {
                return Ok(());
            };
            let profile: ProfileItem = serde_dynamo::from_item(item)?;
            let at = profile.profile.last_activity_at;
            let listed = self
                .db
                .update_item()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s(keys::PROFILE_SK))
                .update_expression("SET gsi1pk = :p, gsi1sk = :g REMOVE split_from")
                // A concurrent delivery may move the last activity: re-read.
                .condition_expression("last_activity_at = :at")
                .expression_attribute_values(":p", s(keys::contacts_by_activity_pk(tenant)))
                .expression_attribute_values(":g", s(keys::contacts_by_activity_sk(at, contact)))
                .expression_attribute_values(":at", s(keys::instant(at)))
                .send()
                .await;
            match listed {
                Ok(_) => return Ok(()),
                Err(e) if lost_race(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Contention(pk))
    }

    /// Moves the contact's last activity forward (never back), which re-sorts
    /// it in the contacts-by-activity index.
    #[tracing::instrument(skip(self))]
    pub async fn touch_contact(
        &self,
        tenant: &str,
        contact: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::contact_pk(tenant, contact)))
            .key("sk", s(keys::PROFILE_SK))
            .update_expression("SET last_activity_at = :at, gsi1sk = :g")
            .condition_expression("attribute_exists(pk) AND last_activity_at < :at")
            .expression_attribute_values(":at", s(keys::instant(at)))
            .expression_attribute_values(":g", s(keys::contacts_by_activity_sk(at, contact)))
            .send()
            .await;
        match result {
            Err(e) if !lost_race(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    #[tracing::instrument(skip(self))]
    pub async fn contact(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<Option<ContactView>, StoreError> {
        let pk = keys::contact_pk(tenant, contact);
        let Some(profile) = self.get(&pk, keys::PROFILE_SK).await? else {
            return Ok(None);
        };
        let profile = serde_dynamo::from_item::<_, ProfileItem>(profile)?.profile;
        let identities = self
            .identity_links(tenant, contact)
            .await?
            .into_iter()
            .map(|link| link.identity)
            .collect();
        Ok(Some(ContactView {
            profile,
            identities,
        }))
    }

    pub async fn contact_exists(&self, tenant: &str, contact: &str) -> Result<bool, StoreError> {
        Ok(self
            .get(&keys::contact_pk(tenant, contact), keys::PROFILE_SK)
            .await?
            .is_some())
    }

    /// Contacts matching `q`: an email address or phone number (any common
    /// format, read with the business's region) finds its holder exactly;
    /// anything else matches names, case- and accent-insensitively.
    #[tracing::instrument(skip(self, q))]
    pub async fn search_contacts(
        &self,
        tenant: &str,
        q: &str,
        region: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ContactProfile>, StoreError> {
        let looks_like_phone = q.chars().filter(char::is_ascii_digit).count() >= 6
            && q.chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        let identities = [
            Identity::email(q).ok(),
            looks_like_phone
                .then(|| Identity::phone(q, region).ok())
                .flatten(),
        ];
        let mut found = Vec::new();
        for identity in identities.iter().flatten() {
            if let Some(owner) = self.identity_owner(tenant, identity).await?
                && let Some(view) = self.contact(tenant, &owner).await?
            {
                found.push(view.profile);
            }
        }
        if !found.is_empty() {
            return Ok(found);
        }
        let needle = crate::text::fold(q.trim());
        let mut after = None;
        loop {
            let page = self.contacts_by_activity(tenant, 100, after).await?;
            found.extend(page.contacts.into_iter().filter(|p| {
                p.display_name
                    .as_deref()
                    .is_some_and(|name| crate::text::fold(name).contains(&needle))
            }));
            if found.len() >= limit || page.next.is_none() {
                found.truncate(limit);
                return Ok(found);
            }
            after = page.next;
        }
    }

    /// Newest activity first. `after` is the `next` of the previous page.
    #[tracing::instrument(skip(self))]
    pub async fn contacts_by_activity(
        &self,
        tenant: &str,
        limit: usize,
        after: Option<(String, String)>,
    ) -> Result<ContactPage, StoreError> {
        let gsi1pk = keys::contacts_by_activity_pk(tenant);
        let start = after.map(|(gsi1sk, contact)| {
            Item::from([
                ("gsi1pk".to_string(), s(gsi1pk.clone())),
                ("gsi1sk".to_string(), s(gsi1sk)),
                ("pk".to_string(), s(keys::contact_pk(tenant, &contact))),
                ("sk".to_string(), s(keys::PROFILE_SK)),
            ])
        });
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(gsi1pk))
            .scan_index_forward(false)
            .limit(page_query_limit(limit))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        let (items, more) = take_page(
            out.items.unwrap_or_default(),
            out.last_evaluated_key.is_some(),
            limit,
        );
        let profiles: Vec<ProfileItem> = items
            .into_iter()
            .map(serde_dynamo::from_item)
            .collect::<Result<_, _>>()?;
        let next = more
            .then(|| profiles.last())
            .flatten()
            .map(|p| (p.gsi1sk.clone(), p.profile.contact_id.clone()));
        Ok(ContactPage {
            contacts: profiles.into_iter().map(|p| p.profile).collect(),
            next,
        })
    }
}

/// A profile item; listed (in the contacts-by-activity index) unless a
/// split from `split_from` is still creating it.
fn profile_item(
    tenant: &str,
    contact: &str,
    display_name: Option<&str>,
    last_activity: DateTime<Utc>,
    split_from: Option<&str>,
) -> Result<Item, StoreError> {
    Ok(serde_dynamo::to_item(ProfileItem {
        pk: keys::contact_pk(tenant, contact),
        sk: keys::PROFILE_SK.to_string(),
        gsi1pk: split_from
            .is_none()
            .then(|| keys::contacts_by_activity_pk(tenant)),
        gsi1sk: keys::contacts_by_activity_sk(last_activity, contact),
        split_from: split_from.map(str::to_string),
        profile: ContactProfile {
            contact_id: contact.to_string(),
            display_name: display_name.map(str::to_string),
            created_at: Utc::now(),
            last_activity_at: last_activity,
            stage: None,
        },
    })?)
}
