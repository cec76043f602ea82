use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::{
    Attempt, Item, Store, StoreError, lost_race, optimistic, page_query_limit, s, settle, take_page,
};
use crate::identity::{Assurance, Identity, IdentityKind, Named};
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
    /// How the contact came to hold it. Items from before assurance was
    /// recorded count as verified, so no claim attaches to their contacts.
    #[serde(default = "legacy_assurance")]
    pub(super) assurance: Assurance,
}

fn legacy_assurance() -> Assurance {
    Assurance::Verified
}

/// Who holds an identity, and how.
struct Holder {
    contact: String,
    assurance: Assurance,
}

/// The contact a delivery's event belongs to, and the identity that put it
/// there (recorded on the event, so a split can move it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub contact: String,
    pub via: Identity,
}

impl Store {
    /// The contact for a delivery that names one or more identities (the
    /// customer's first), under the trust rule of `crate::identity`:
    ///
    /// - The event goes to the holder of its first verified identity; a
    ///   delivery naming no verified identity goes to the holder of its
    ///   first (customer) identity, as an email from an address goes to
    ///   that address's contact: filing an event by the identity it names
    ///   is not proof of anything else. Otherwise a new contact.
    /// - A verified identity held only by a claim (a visitor typed that
    ///   phone before its owner wrote from it) leaves the claimant, with
    ///   whatever arrived through it, for a contact of its own: proof wins
    ///   over a claim, and the claimant is suggested as a duplicate.
    /// - Every other identity named is added to that contact if nobody holds
    ///   it and it is verified, or the contact holds no verified identity
    ///   besides visitor ids (a new or anonymous contact). A claim that
    ///   cannot be added, or an identity another contact holds, becomes a
    ///   duplicate suggestion (a claim nobody holds first gets a contact of
    ///   its own). Nothing is merged automatically.
    ///
    /// The outcome does not depend on the order deliveries arrive in.
    #[tracing::instrument(skip_all)]
    pub async fn resolve_named(
        &self,
        tenant: &str,
        named: &[Named],
        display_name: Option<&str>,
        first_seen: DateTime<Utc>,
    ) -> Result<Resolved, StoreError> {
        let Some(primary) = named.first() else {
            return Err(StoreError::Unattributable(
                "a delivery naming nobody".into(),
            ));
        };
        let verified = || named.iter().filter(|n| n.assurance == Assurance::Verified);
        let mut anchor = None;
        for proven in verified() {
            if let Some(holder) = self.holder(tenant, &proven.identity).await? {
                let contact = match holder.assurance {
                    Assurance::Verified => holder.contact,
                    Assurance::SelfAsserted => {
                        self.settle_claim(tenant, &holder.contact, proven, display_name, first_seen)
                            .await?
                    }
                };
                anchor = Some((contact, proven));
                break;
            }
        }
        if anchor.is_none() && verified().next().is_none() {
            anchor = self
                .holder(tenant, &primary.identity)
                .await?
                .map(|holder| (holder.contact, primary));
        }
        let (contact, via) = match anchor {
            Some(found) => found,
            None => {
                let first = verified().next().unwrap_or(primary);
                let contact = self
                    .resolve_contact_as(tenant, first, display_name, first_seen)
                    .await?;
                (contact, first)
            }
        };
        for other in named.iter().filter(|n| n.identity != via.identity) {
            self.attach(tenant, &contact, other, display_name, first_seen)
                .await?;
        }
        Ok(Resolved {
            contact,
            via: via.identity.clone(),
        })
    }

    /// As [`Store::resolve_named`] with every identity vouched for (verified):
    /// staff actions and set-ups that know who the customer is.
    pub async fn resolve_contact_with(
        &self,
        tenant: &str,
        primary: &Identity,
        linked: &[Identity],
        display_name: Option<&str>,
        first_seen: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let named: Vec<Named> = std::iter::once(primary)
            .chain(linked)
            .map(|identity| Named {
                identity: identity.clone(),
                assurance: Assurance::Verified,
            })
            .collect();
        Ok(self
            .resolve_named(tenant, &named, display_name, first_seen)
            .await?
            .contact)
    }

    pub(super) async fn identity_owner(
        &self,
        tenant: &str,
        identity: &Identity,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.holder(tenant, identity).await?.map(|h| h.contact))
    }

    async fn holder(
        &self,
        tenant: &str,
        identity: &Identity,
    ) -> Result<Option<Holder>, StoreError> {
        Ok(
            match self
                .get(&keys::identity_pk(tenant, identity), keys::IDENTITY_SK)
                .await?
            {
                Some(item) => {
                    let item: IdentityItem = serde_dynamo::from_item(item)?;
                    Some(Holder {
                        contact: item.contact_id,
                        assurance: item.assurance,
                    })
                }
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

    /// Holds no verified identity besides visitor ids: a claim may join it.
    async fn is_open(&self, tenant: &str, contact: &str) -> Result<bool, StoreError> {
        let links = self.identity_links(tenant, contact).await?;
        Ok(links.iter().all(|l| {
            l.identity.kind == IdentityKind::Visitor || l.assurance == Assurance::SelfAsserted
        }))
    }

    /// Records `named` on `contact` if the trust rule lets it; otherwise
    /// suggests the contact that holds it (or, for a claim nobody holds, a
    /// new contact for it) as a duplicate.
    async fn attach(
        &self,
        tenant: &str,
        contact: &str,
        named: &Named,
        display_name: Option<&str>,
        first_seen: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        optimistic(
            || format!("identity owner ({})", named.identity.kind.as_str()),
            async || match self.holder(tenant, &named.identity).await? {
                Some(holder) if holder.contact == contact => {
                    if named.assurance == Assurance::Verified
                        && holder.assurance == Assurance::SelfAsserted
                    {
                        self.confirm(tenant, contact, &named.identity).await?;
                    }
                    Ok(Attempt::Done(()))
                }
                Some(holder) => {
                    return self
                        .suggest_duplicate(tenant, contact, &holder.contact, named)
                        .await
                        .map(Attempt::Done);
                }
                None if named.assurance == Assurance::Verified
                    || self.is_open(tenant, contact).await? =>
                {
                    Ok(if self.link(tenant, contact, named).await? {
                        Attempt::Done(())
                    } else {
                        Attempt::Retry
                    })
                }
                None => {
                    let own = self
                        .resolve_contact_as(tenant, named, display_name, first_seen)
                        .await?;
                    self.suggest_duplicate(tenant, contact, &own, named)
                        .await
                        .map(Attempt::Done)
                }
            },
        )
        .await
    }

    /// Gives an identity nobody holds to `contact`; false when someone took
    /// it meanwhile.
    async fn link(&self, tenant: &str, contact: &str, named: &Named) -> Result<bool, StoreError> {
        let (owner, link) = identity_items(tenant, contact, named)?;
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
            Ok(_) => Ok(true),
            Err(e) if lost_race(&e) => {
                self.ensure_not_merged(tenant, contact).await?;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A verified identity that `claimant` holds only by a claim: if the
    /// claimant holds nothing else, it is simply confirmed there; otherwise
    /// it and the events that arrived through it move to a new contact,
    /// suggested as the claimant's duplicate. Returns the identity's contact.
    async fn settle_claim(
        &self,
        tenant: &str,
        claimant: &str,
        proven: &Named,
        display_name: Option<&str>,
        first_seen: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let others = self
            .identity_links(tenant, claimant)
            .await?
            .into_iter()
            .any(|link| link.identity != proven.identity);
        if !others {
            self.confirm(tenant, claimant, &proven.identity).await?;
            return Ok(claimant.to_string());
        }
        let identities = [proven.identity.clone()];
        let own = Box::pin(self.split_contact(tenant, claimant, &identities, display_name)).await?;
        // Active since its latest event, or since this delivery, as if it
        // had been created by it.
        let newest = self
            .events_query(tenant, &own)
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await?
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(serde_dynamo::from_item::<_, super::events::EventItem>)
            .transpose()?
            .map(|item| item.event.occurred_at);
        let since = newest.map_or(first_seen, |at| at.max(first_seen));
        self.set_last_activity(tenant, &own, since).await?;
        self.finish_split(tenant, &own).await?;
        self.confirm(tenant, &own, &proven.identity).await?;
        self.suggest_superseded_claim(tenant, claimant, &own, &proven.identity)
            .await?;
        Ok(own)
    }

    /// Sets the last activity of a contact that is not listed yet.
    async fn set_last_activity(
        &self,
        tenant: &str,
        contact: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::contact_pk(tenant, contact)))
            .key("sk", s(keys::PROFILE_SK))
            .update_expression("SET last_activity_at = :at, gsi1sk = :g")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(gsi1pk)")
            .expression_attribute_values(":at", s(keys::instant(at)))
            .expression_attribute_values(":g", s(keys::contacts_by_activity_sk(at, contact)))
            .send()
            .await?;
        Ok(())
    }

    /// Marks `contact`'s hold on `identity` as verified.
    async fn confirm(
        &self,
        tenant: &str,
        contact: &str,
        identity: &Identity,
    ) -> Result<(), StoreError> {
        for (pk, sk) in [
            (
                keys::identity_pk(tenant, identity),
                keys::IDENTITY_SK.to_string(),
            ),
            (
                keys::contact_pk(tenant, contact),
                keys::identity_link_sk(identity),
            ),
        ] {
            let confirmed = self
                .db
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .update_expression("SET assurance = :verified")
                .condition_expression("contact_id = :contact")
                .expression_attribute_values(":verified", s("verified"))
                .expression_attribute_values(":contact", s(contact))
                .send()
                .await;
            match confirmed {
                Err(e) if !lost_race(&e) => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    /// The contact holding `identity`, created atomically if nobody holds it:
    /// two first messages racing from one person still make one contact.
    /// The caller vouches for the identity (it is recorded as verified):
    /// set-ups and imports that know who the customer is.
    // Identities are personal data: they stay out of logs and spans.
    #[tracing::instrument(skip(self, identity, display_name))]
    pub async fn resolve_contact(
        &self,
        tenant: &str,
        identity: &Identity,
        display_name: Option<&str>,
        first_seen: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let named = Named {
            identity: identity.clone(),
            assurance: Assurance::Verified,
        };
        self.resolve_contact_as(tenant, &named, display_name, first_seen)
            .await
    }

    /// The contact holding `named`'s identity, created with it (recorded
    /// with its assurance) if nobody holds it.
    async fn resolve_contact_as(
        &self,
        tenant: &str,
        named: &Named,
        display_name: Option<&str>,
        first_seen: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let identity_pk = keys::identity_pk(tenant, &named.identity);
        let identity_pk = &identity_pk;
        optimistic(
            || format!("identity owner ({})", named.identity.kind.as_str()),
            || async move {
                if let Some(item) = self.get(identity_pk, keys::IDENTITY_SK).await? {
                    return Ok(Attempt::Done(
                        serde_dynamo::from_item::<_, IdentityItem>(item)?.contact_id,
                    ));
                }
                let contact_id = Ulid::new().to_string();
                let (owner, link) = identity_items(tenant, &contact_id, named)?;
                let profile = profile_item(tenant, &contact_id, display_name, first_seen, None)?;
                let result = self
                    .db
                    .transact_write_items()
                    .transact_items(self.put_new(owner)?)
                    .transact_items(self.put_new(link)?)
                    .transact_items(self.put_new(profile)?)
                    .send()
                    .await;
                Ok(settle(result)?.map(|_| contact_id))
            },
        )
        .await
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
        let pk = &pk;
        optimistic(
            || pk.clone(),
            || async move {
                let Some(item) = self.get(pk, keys::PROFILE_SK).await? else {
                    return Ok(Attempt::Done(()));
                };
                let profile: ProfileItem = serde_dynamo::from_item(item)?;
                let at = profile.profile.last_activity_at;
                let listed = self
                    .db
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", s(pk.as_str()))
                    .key("sk", s(keys::PROFILE_SK))
                    .update_expression("SET gsi1pk = :p, gsi1sk = :g REMOVE split_from")
                    // A concurrent delivery may move the last activity: re-read.
                    .condition_expression("last_activity_at = :at")
                    .expression_attribute_values(":p", s(keys::contacts_by_activity_pk(tenant)))
                    .expression_attribute_values(
                        ":g",
                        s(keys::contacts_by_activity_sk(at, contact)),
                    )
                    .expression_attribute_values(":at", s(keys::instant(at)))
                    .send()
                    .await;
                Ok(settle(listed)?.map(drop))
            },
        )
        .await
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

    /// The profile alone (one item read), without its identities.
    pub async fn profile(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<Option<ContactProfile>, StoreError> {
        let pk = keys::contact_pk(tenant, contact);
        match self.get(&pk, keys::PROFILE_SK).await? {
            Some(item) => Ok(Some(
                serde_dynamo::from_item::<_, ProfileItem>(item)?.profile,
            )),
            None => Ok(None),
        }
    }

    /// The profiles of these contacts (those that exist), read 100 to a call.
    pub async fn profiles(
        &self,
        tenant: &str,
        contacts: &[String],
    ) -> Result<Vec<ContactProfile>, StoreError> {
        let mut profiles = Vec::with_capacity(contacts.len());
        for chunk in contacts.chunks(100) {
            let keys = chunk
                .iter()
                .map(|c| {
                    Item::from([
                        ("pk".to_string(), s(keys::contact_pk(tenant, c))),
                        ("sk".to_string(), s(keys::PROFILE_SK)),
                    ])
                })
                .collect();
            for item in self.batch_get(keys).await? {
                profiles.push(serde_dynamo::from_item::<_, ProfileItem>(item)?.profile);
            }
        }
        Ok(profiles)
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

/// The owner item (identity -> contact) and the link item (contact ->
/// identity) of `named` held by `contact`.
fn identity_items(tenant: &str, contact: &str, named: &Named) -> Result<(Item, Item), StoreError> {
    let item = |pk: String, sk: String| {
        serde_dynamo::to_item(IdentityItem {
            pk,
            sk,
            contact_id: contact.to_string(),
            identity: named.identity.clone(),
            assurance: named.assurance,
        })
    };
    Ok((
        item(
            keys::identity_pk(tenant, &named.identity),
            keys::IDENTITY_SK.to_string(),
        )?,
        item(
            keys::contact_pk(tenant, contact),
            keys::identity_link_sk(&named.identity),
        )?,
    ))
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
