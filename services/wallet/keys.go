package wallet

import (
	"hash/fnv"
	"strconv"
)

// Redis layout. Every key of one account within one activity shares the hash tag
// {activity:actId}, so each account's scripts touch one Redis Cluster slot; settlement queues
// are sharded streams, each its own slot.
//
//	w:{A:U}:p        hash  orderNo → pending order (JSON), the account's unsettled rewards
//	w:{A:U}:o:ORDER  hash  c (content), tok (token), st (token status), at (issued, unix ms)
//	w:{A:U}:cap:V    string  total received, for the per-user cap (V: the activity's version)
//	w:q:{N}          stream of settlement jobs for shard N

func accountTag(activityID string, actID int64) string {
	return "{" + activityID + ":" + strconv.FormatInt(actID, 10) + "}"
}

func pendingKey(activityID string, actID int64) string {
	return "w:" + accountTag(activityID, actID) + ":p"
}

func orderKey(activityID string, actID int64, orderNo string) string {
	return "w:" + accountTag(activityID, actID) + ":o:" + orderNo
}

// capKey is the account's received total under the activity's per-user cap; the activity's
// version is part of it, so changing the cap starts counting afresh from the data.
func capKey(activityID string, actID, version int64) string {
	return "w:" + accountTag(activityID, actID) + ":cap:" + strconv.FormatInt(version, 10)
}

func streamKey(shard int) string { return "w:q:{" + strconv.Itoa(shard) + "}" }

// shardOf spreads accounts over the settlement streams; one account always lands on one shard,
// so its jobs are settled in order.
func shardOf(activityID string, actID int64, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(accountTag(activityID, actID)))
	return int(h.Sum32() % uint32(shards))
}
