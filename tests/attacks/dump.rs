//! The oracle dump (DESIGN §1 T3, §3.1), as an attacker who holds the watchlist file runs it: instead
//! of a face's L codes, it asks the authority for chosen (table, code) pairs — all C codes of table
//! 0, then of table 1, … — pools the bucket shares every answer opens, and opens each entry's
//! record as soon as m shares of it are in the pool. It uses only what the file and the public
//! library give anyone: the kiosk's own blinding ([`BlindedBatch`]), the tags, buckets and shares
//! of `veilwatch::blind`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use veilwatch::blind::bucket;
use veilwatch::blind::format::Watchlist;
use veilwatch::blind::material::Handle;
use veilwatch::blind::prf::{code_input, derive, BlindedBatch};
use veilwatch::blind::record;
use veilwatch::blind::shares::{combine, SHARE_BYTES};
use zeroize::Zeroizing;

/// A record the attacker opened — under authority custody all it holds is the entry's handle —
/// and the record key that opened it.
pub struct Opened {
    pub record_key: Zeroizing<[u8; 16]>,
    pub handle: Handle,
}

pub struct Dump {
    pub watchlist: Watchlist,
    /// The next (table, code) to ask for, as `table · C + code`.
    next: usize,
    pooled: HashMap<u32, Vec<(u16, [u8; SHARE_BYTES])>>,
    pub opened: BTreeMap<u32, Opened>,
    /// Per entry, the (table, code) pairs whose bucket held one of its shares: once every table
    /// is there, the entry's whole code vector, an approximate template of the face.
    codes: HashMap<u32, BTreeSet<(u16, u16)>>,
    /// Elements the authority answered, in total.
    pub elements_answered: usize,
}

/// One request's worth of chosen codes, blinded as a kiosk blinds a face's codes.
pub struct Query {
    pairs: Vec<(u16, u16)>,
    batch: BlindedBatch,
}

impl Query {
    pub fn body(&self) -> &[u8] {
        self.batch.request()
    }
}

impl Dump {
    pub fn new(watchlist: Watchlist) -> Dump {
        Dump {
            watchlist,
            next: 0,
            pooled: HashMap::new(),
            opened: BTreeMap::new(),
            codes: HashMap::new(),
            elements_answered: 0,
        }
    }

    pub fn code_space(&self) -> usize {
        self.watchlist.header.code_space as usize
    }

    /// The next `n` (table, code) pairs in table-major order, blinded (`None` once every code of
    /// every table was asked for).
    pub fn next_query(&mut self, n: usize) -> Option<Query> {
        let (tables, codes) = (self.watchlist.header.tables as usize, self.code_space());
        if self.next >= tables * codes {
            return None;
        }
        let end = (self.next + n).min(tables * codes);
        let pairs: Vec<(u16, u16)> = (self.next..end).map(|i| ((i / codes) as u16, (i % codes) as u16)).collect();
        self.next = end;
        let inputs = pairs.iter().map(|&(l, c)| code_input(&self.watchlist.header.watchlist_id, l, c)).collect();
        Some(Query { pairs, batch: BlindedBatch::blind(inputs).expect("inputs of the right length") })
    }

    /// The opened (real) entries whose code is known in every table.
    pub fn complete_code_vectors(&self) -> usize {
        let tables = self.watchlist.header.tables as usize;
        let complete = |entry: &u32| {
            let codes =
                self.codes.get(entry).map_or(0, |c| c.iter().map(|(table, _)| table).collect::<BTreeSet<_>>().len());
            codes == tables
        };
        self.opened.keys().filter(|entry| complete(entry)).count()
    }

    /// Pools the shares the authority's answer to `query` opens; then opens every record that now
    /// has m shares. Returns how many records opened with this answer.
    pub fn absorb(&mut self, query: &Query, answer: &[u8]) -> usize {
        let public_key = self.watchlist.header.authority_key.expect("an authority-custody watchlist");
        let outputs = query.batch.finish(answer, &public_key).expect("the authority's answer unblinds and verifies");
        self.elements_answered += outputs.len();
        let header = &self.watchlist.header;
        for (&(table, code), y) in query.pairs.iter().zip(&outputs) {
            for slot in 0..=u16::MAX {
                let derived = derive(y, slot);
                let Some(found) = self.watchlist.find_bucket(&derived.tag) else { break };
                let blob = self.watchlist.bucket_blob(found);
                let Some(items) = bucket::open(&derived, &self.watchlist.header_hash, table, blob) else { break };
                for item in items.iter().filter(|item| item.entry < header.entries) {
                    self.pooled.entry(item.entry).or_default().push((table, item.share));
                    self.codes.entry(item.entry).or_default().insert((table, code));
                }
            }
        }
        let threshold = header.threshold as usize;
        let mut newly = 0;
        for (&entry, shares) in &self.pooled {
            if shares.len() < threshold || self.opened.contains_key(&entry) {
                continue;
            }
            let Some(key) = combine(shares, threshold) else { continue };
            let Some(sealed) = self.watchlist.record(entry) else { continue };
            // Dummy entries have shares too, but no key they rebuild opens their record.
            if let Some(handle) = record::open_handle(sealed, &key, &self.watchlist.header_hash, entry) {
                self.opened.insert(entry, Opened { record_key: key, handle });
                newly += 1;
            }
        }
        newly
    }
}
