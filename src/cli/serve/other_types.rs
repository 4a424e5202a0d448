//! The commands of Redis's other data types (hashes, lists, sets, sorted
//! sets, streams, bitmaps, HyperLogLogs, geo): tinykv stores strings
//! only, so each gets one error that names it and its type, instead of
//! Redis's `unknown command`, which would read as a typo.

/// Redis's commands by type, uppercase.
const TYPES: [(&str, &[&str]); 8] = [
    (
        "hashes",
        &[
            "HSET",
            "HGET",
            "HMSET",
            "HMGET",
            "HGETALL",
            "HDEL",
            "HEXISTS",
            "HINCRBY",
            "HINCRBYFLOAT",
            "HKEYS",
            "HVALS",
            "HLEN",
            "HSETNX",
            "HSTRLEN",
            "HRANDFIELD",
            "HSCAN",
        ],
    ),
    (
        "lists",
        &[
            "LPUSH",
            "RPUSH",
            "LPUSHX",
            "RPUSHX",
            "LPOP",
            "RPOP",
            "LRANGE",
            "LLEN",
            "LINDEX",
            "LSET",
            "LREM",
            "LTRIM",
            "LINSERT",
            "LPOS",
            "LMOVE",
            "LMPOP",
            "RPOPLPUSH",
            "BLPOP",
            "BRPOP",
            "BRPOPLPUSH",
            "BLMOVE",
            "BLMPOP",
        ],
    ),
    (
        "sets",
        &[
            "SADD",
            "SREM",
            "SMEMBERS",
            "SISMEMBER",
            "SMISMEMBER",
            "SCARD",
            "SPOP",
            "SRANDMEMBER",
            "SMOVE",
            "SINTER",
            "SINTERSTORE",
            "SINTERCARD",
            "SUNION",
            "SUNIONSTORE",
            "SDIFF",
            "SDIFFSTORE",
            "SSCAN",
        ],
    ),
    (
        "sorted sets",
        &[
            "ZADD",
            "ZRANGE",
            "ZREVRANGE",
            "ZRANGEBYSCORE",
            "ZREVRANGEBYSCORE",
            "ZRANGEBYLEX",
            "ZREVRANGEBYLEX",
            "ZRANGESTORE",
            "ZREM",
            "ZREMRANGEBYRANK",
            "ZREMRANGEBYSCORE",
            "ZREMRANGEBYLEX",
            "ZSCORE",
            "ZMSCORE",
            "ZINCRBY",
            "ZCARD",
            "ZCOUNT",
            "ZLEXCOUNT",
            "ZRANK",
            "ZREVRANK",
            "ZPOPMIN",
            "ZPOPMAX",
            "BZPOPMIN",
            "BZPOPMAX",
            "ZMPOP",
            "BZMPOP",
            "ZRANDMEMBER",
            "ZUNION",
            "ZUNIONSTORE",
            "ZINTER",
            "ZINTERSTORE",
            "ZINTERCARD",
            "ZDIFF",
            "ZDIFFSTORE",
            "ZSCAN",
        ],
    ),
    (
        "streams",
        &[
            "XADD",
            "XRANGE",
            "XREVRANGE",
            "XLEN",
            "XREAD",
            "XREADGROUP",
            "XGROUP",
            "XACK",
            "XPENDING",
            "XCLAIM",
            "XAUTOCLAIM",
            "XDEL",
            "XTRIM",
            "XINFO",
            "XSETID",
        ],
    ),
    (
        "bitmaps",
        &[
            "SETBIT",
            "GETBIT",
            "BITCOUNT",
            "BITPOS",
            "BITOP",
            "BITFIELD",
            "BITFIELD_RO",
        ],
    ),
    ("HyperLogLogs", &["PFADD", "PFCOUNT", "PFMERGE"]),
    (
        "geospatial indexes",
        &[
            "GEOADD",
            "GEODIST",
            "GEOHASH",
            "GEOPOS",
            "GEORADIUS",
            "GEORADIUSBYMEMBER",
            "GEORADIUS_RO",
            "GEORADIUSBYMEMBER_RO",
            "GEOSEARCH",
            "GEOSEARCHSTORE",
        ],
    ),
];

/// The error for a command of another data type, or `None` when `name`
/// is not one.
pub fn refusal(name: &[u8]) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    TYPES.iter().find_map(|(kind, names)| {
        names
            .iter()
            .find(|n| n.as_bytes() == upper)
            .map(|n| format!("ERR tinykv stores strings only: '{n}' ({kind}) is not supported"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_types_are_named() {
        assert_eq!(
            refusal(b"hset").as_deref(),
            Some("ERR tinykv stores strings only: 'HSET' (hashes) is not supported")
        );
        assert!(refusal(b"ZADD").unwrap().contains("(sorted sets)"));
        assert!(refusal(b"xAdd").unwrap().contains("'XADD' (streams)"));
        assert_eq!(refusal(b"GET"), None);
        assert_eq!(refusal(b"nosuch"), None);
    }
}
