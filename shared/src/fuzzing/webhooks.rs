//! The other webhook adapters.

use super::*;

/// `webhooks`: the other adapters through `channels::parse`, the first byte
/// picking WhatsApp, Instagram, Twilio SMS or voice, Stripe or Cal.com (the
/// second the default phone region), the rest the body: bounded work, and
/// the ids and identities of whatever they return, all from that provider.
pub fn check_webhooks(data: &[u8]) {
    warm_up();
    const PROVIDERS: [Provider; 6] = [
        Provider::Whatsapp,
        Provider::Instagram,
        Provider::TwilioSms,
        Provider::TwilioVoice,
        Provider::Stripe,
        Provider::Calcom,
    ];
    const REGIONS: [Option<&str>; 4] = [None, Some("GB"), Some("DE"), Some("US")];
    let mut fields = Fields(data);
    let provider = PROVIDERS[usize::from(fields.byte()) % PROVIDERS.len()];
    let ctx = ctx(REGIONS[usize::from(fields.byte()) % REGIONS.len()]);
    let body = fields.0;
    let parsed = within_budget(provider.as_str(), body.len(), || {
        crate::channels::parse(provider, body, &ctx)
    });
    let Ok(events) = parsed else {
        return;
    };
    check_events(&events);
    for event in &events {
        let from = match event {
            CanonicalEvent::Message(m) => m.provider,
            CanonicalEvent::Status(s) => s.provider,
            CanonicalEvent::Deletion(d) => d.provider,
            CanonicalEvent::Call(c) => c.provider,
            CanonicalEvent::Booking(b) => b.provider,
            CanonicalEvent::Payment(p) => p.provider,
        };
        assert_eq!(from, provider, "an event from another provider");
    }
}
