//! Reads that change nothing: a page of history further back than any replay goes, and the
//! roster as it is now (the presence scripts' answer shape, shared with a join).

use std::collections::BTreeMap;

use protocol::{ChannelId, ClientId, DisplayName, MessageId, frames::MAX_WELCOME_ONLINE};

use super::{Entry, message_from_entry};
use crate::bus::{
    BusError, HistoryPage, Roster,
    redis::{RedisBus, keys::ChannelKeys},
};

/// What the presence scripts answer: the count, up to [`MAX_WELCOME_ONLINE`] client ids,
/// and each one's name (`None` for none), in the same order.
pub type RosterReply = (u64, Vec<String>, Vec<Option<String>>);

/// The roster a presence script answered, skipping anything unreadable in it.
pub fn roster((online_count, ids, names): RosterReply) -> Roster {
    let mut roster = Roster {
        online: Vec::with_capacity(ids.len()),
        online_count,
        names: BTreeMap::new(),
    };
    for (id, name) in ids
        .iter()
        .zip(names.into_iter().chain(std::iter::repeat(None)))
    {
        let Ok(client) = ClientId::parse(id) else {
            continue;
        };
        if let Some(name) = name.and_then(|n| DisplayName::parse(&n).ok()) {
            roster.names.insert(client.clone(), name);
        }
        roster.online.push(client);
    }
    roster
}

impl RedisBus {
    /// Up to `limit` entries before `before`, read newest first with one more than asked
    /// for: its presence is what says older ones are still kept.
    pub async fn page_before(
        &self,
        channel: &ChannelId,
        before: MessageId,
        limit: usize,
    ) -> Result<HistoryPage, BusError> {
        if before == MessageId::ZERO || limit == 0 {
            return Ok(HistoryPage {
                messages: Vec::new(),
                more: false,
            });
        }
        let keys = &ChannelKeys::new(channel);
        let end = &format!("({before}");
        let mut entries: Vec<Entry> = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                redis::cmd("XREVRANGE")
                    .arg(keys.log())
                    .arg(end)
                    .arg("-")
                    .arg("COUNT")
                    .arg(limit + 1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let more = entries.len() > limit;
        entries.truncate(limit);
        entries.reverse();
        let messages = entries
            .into_iter()
            .map(|entry| message_from_entry(channel, entry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HistoryPage { messages, more })
    }

    /// Who is in the channel now, names included.
    pub async fn roster_now(&self, channel: &ChannelId) -> Result<Roster, BusError> {
        let keys = &ChannelKeys::new(channel);
        let reply: RosterReply = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                self.scripts
                    .presence_read
                    .key(keys.online())
                    .arg(MAX_WELCOME_ONLINE)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(roster(reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roster_keeps_names_beside_their_ids_and_skips_garbage() {
        let roster = roster((
            3,
            vec!["zoe".into(), "bad id".into(), "anon".into()],
            vec![Some("Zoë Smith".into()), Some("x".into()), None],
        ));
        let ids: Vec<&str> = roster.online.iter().map(ClientId::as_str).collect();
        assert_eq!(ids, ["zoe", "anon"]);
        assert_eq!(roster.online_count, 3);
        assert_eq!(roster.names.len(), 1);
        assert_eq!(
            roster.names[&ClientId::parse("zoe").unwrap()].as_str(),
            "Zoë Smith"
        );
    }
}
