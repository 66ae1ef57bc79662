//! A channel's `presence` events of one short window, coalesced before they go to its local
//! members: a client id that joins and leaves many times in the window (a reconnect loop, a
//! flaky network) costs each member one frame, not one per event.
//!
//! Each client id's frame says where it ended up: its last event. That is right for every
//! member whenever it read its roster (before, during or after the window), which dropping a
//! join-and-leave pair would not be for a member whose roster was read in between.

use std::collections::HashMap;

use protocol::{ClientId, DisplayName, PresenceEvent, ServerFrame};

#[derive(Debug, Default)]
pub struct PresenceBatch {
    /// Each client id's last event (with the name it carried), and when it first appeared in
    /// the window (frames go out in that order).
    last: HashMap<ClientId, (u64, PresenceEvent, Option<DisplayName>)>,
    next: u64,
    /// The newest count, carried by every frame of the batch.
    online_count: u64,
}

impl PresenceBatch {
    pub fn add(
        &mut self,
        event: PresenceEvent,
        client_id: ClientId,
        online_count: u64,
        name: Option<DisplayName>,
    ) {
        let next = self.next;
        let entry = self.last.entry(client_id).or_insert((next, event, None));
        entry.1 = event;
        entry.2 = name;
        self.next += 1;
        self.online_count = online_count;
    }

    /// One `presence` frame per client id, in the order they first appeared.
    pub fn into_frames(self) -> Vec<ServerFrame> {
        let mut last: Vec<_> = self.last.into_iter().collect();
        last.sort_by_key(|(_, (order, _, _))| *order);
        last.into_iter()
            .map(|(client_id, (_, event, name))| ServerFrame::Presence {
                event,
                client_id,
                online_count: self.online_count,
                name,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ClientId {
        ClientId::parse(s).unwrap()
    }

    fn bob() -> DisplayName {
        DisplayName::parse("Bob Ó").unwrap()
    }

    #[test]
    fn each_client_id_ends_up_as_one_frame_with_the_newest_count() {
        let mut batch = PresenceBatch::default();
        for _ in 0..100 {
            batch.add(PresenceEvent::Join, id("churner"), 3, None);
            batch.add(PresenceEvent::Leave, id("churner"), 2, None);
        }
        batch.add(PresenceEvent::Join, id("bob"), 3, Some(bob()));
        batch.add(PresenceEvent::Leave, id("carol"), 2, None);
        let frames = batch.into_frames();
        let expected = [
            (PresenceEvent::Leave, "churner"),
            (PresenceEvent::Join, "bob"),
            (PresenceEvent::Leave, "carol"),
        ]
        .map(|(event, who)| ServerFrame::Presence {
            event,
            client_id: id(who),
            online_count: 2,
            name: (who == "bob").then(bob),
        });
        assert_eq!(frames, expected);
    }
}
