package wallet

import (
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Redis layout: every key the reward core uses is built by a function here. Every key of one
// account within one activity shares the hash tag {activity:actId}, so each account's scripts
// touch one Redis Cluster slot; settlement queues are sharded streams, each its own slot;
// an activity's budget counters share {b:activity}, its hot totals {s:activity}.
//
//	w:{A:U}:p          hash    orderNo → pending order (JSON), the account's unsettled rewards
//	w:{A:U}:o:ORDER    hash    c (content), tok (token), st (token status), at (issued, unix ms)
//	w:{A:U}:cap:V      string  total received, for the per-user cap (V: the activity's version)
//	w:q:{N}            stream  settlement jobs for shard N
//	w:b:{b:A}:s:SCENE  hash    issued (fen reserved by issuance for the scene)
//	w:b:{b:A}:all      hash    issued (all scenes of the activity)
//	w:c:{s:A}          hash    hot issuance totals: amt, cnt, cash, amt:SCENE, cnt:SCENE
//	w:e:{TAG}          string  the epoch marker of the slot TAG lands on: since when (unix ms)
//	                           the slot holds every order record (epoch.go)
//	w:j:live:ID        string  instance ID's journal worker is live (expires)
//	w:j:recover        string  the id of the recovery from data loss under way
//	w:j:ack:ID         set     the instances whose journal holds what they accepted before
//	                           recovery ID began

func accountTag(activityID string, actID int64) string {
	return "{" + activityID + ":" + strconv.FormatInt(actID, 10) + "}"
}

func pendingKey(activityID string, actID int64) string {
	return "w:" + accountTag(activityID, actID) + ":p"
}

// pendingKeyPattern matches every account's pending hash (for SCAN).
func pendingKeyPattern() string { return "w:{*}:p" }

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

func budgetSceneKey(activityID, sceneID string) string {
	return "w:b:{b:" + activityID + "}:s:" + sceneID
}

func budgetAllKey(activityID string) string { return "w:b:{b:" + activityID + "}:all" }

const statsKeyPrefix, statsKeySuffix = "w:c:{s:", "}"

// statsKey is the hash of an activity's hot issuance totals.
func statsKey(activityID string) string { return statsKeyPrefix + activityID + statsKeySuffix }

// statsKeyActivity is the activity whose totals key is k (false for other keys).
func statsKeyActivity(k string) (string, bool) {
	act, ok := strings.CutPrefix(k, statsKeyPrefix)
	if !ok || !strings.HasSuffix(act, statsKeySuffix) {
		return "", false
	}
	return strings.TrimSuffix(act, statsKeySuffix), true
}

// markerKey is the epoch marker of one slot.
func markerKey(slot int) string { return "w:e:{" + slotTags()[slot] + "}" }

// accountMarker is the marker on the slot of an account's keys (accountTag).
func accountMarker(activityID string, actID int64) string {
	return markerKey(slotOf(activityID + ":" + strconv.FormatInt(actID, 10)))
}

// budgetMarker is the marker on the slot of an activity's budget counters.
func budgetMarker(activityID string) string { return markerKey(slotOf("b:" + activityID)) }

// The journal beacons' keys (epoch.go).
const (
	beaconRecoverKey = "w:j:recover"
	beaconLivePrefix = "w:j:live:"
	beaconAckPrefix  = "w:j:ack:"
	// beaconKeep is how long a recovery id and its acknowledgements are kept.
	beaconKeep = time.Minute
)
