package store

import (
	"reflect"
	"strings"
	"testing"
)

// keyCase pins one key builder of Keys: the key it builds in namespace
// "hader", the Redis type the engine keeps there (TypeOf; "" for a pub/sub
// channel) and the hash tag it shares with the other keys of its part's
// multi-key scripts ("" for a key no multi-key script takes).
type keyCase struct {
	method string // the builder's name on Keys
	arg    string // its argument, if it takes one
	want   string
	typ    string
	tag    string
}

// keyCases lists every key builder (TestKeysTableCoversEveryBuilder fails
// when one is added without a row). The strings are docs/redis-schema.md's.
var keyCases = []keyCase{
	{"Schema", "", "hader:schema", "string", ""},

	{"Breakers", "", "hader:breakers", "set", ""},
	{"Breaker", "shopify", "hader:breaker:{shopify}", "hash", "shopify"},
	{"BreakerProbes", "shopify", "hader:breaker:{shopify}:probes", "zset", "shopify"},
	{"BreakerReporters", "shopify", "hader:breaker:{shopify}:reporters", "zset", "shopify"},
	{"BreakerFallbacks", "shopify", "hader:breaker:{shopify}:fallbacks", "zset", "shopify"},
	{"BreakerEvents", "shopify", "hader:breaker:{shopify}:events", "stream", "shopify"},
	{"BreakerChannel", "", "hader:breaker:transitions", "", ""},

	{"Queues", "", "hader:queues", "set", ""},
	{"Queue", "orders", "hader:queue:{orders}", "hash", "orders"},
	{"QueueReady", "orders", "hader:queue:{orders}:ready", "zset", "orders"},
	{"QueueDelayed", "orders", "hader:queue:{orders}:delayed", "zset", "orders"},
	{"QueueLeased", "orders", "hader:queue:{orders}:leased", "zset", "orders"},
	{"QueueDead", "orders", "hader:queue:{orders}:dead", "zset", "orders"},
	{"QueueOps", "orders", "hader:queue:{orders}:ops", "hash", "orders"},
	{"QueueLeases", "orders", "hader:queue:{orders}:lease", "hash", "orders"},
	{"QueueErrors", "orders", "hader:queue:{orders}:errors", "hash", "orders"},
	{"QueueDone", "orders", "hader:queue:{orders}:done", "list", "orders"},

	{"HealthServices", "", "hader:health:services", "hash", ""},
	{"Health", "aramex", "hader:health:{aramex}", "hash", "aramex"},
	{"HealthSlot", "aramex", "hader:health:{aramex}:slot", "string", "aramex"},
	{"HealthHours", "aramex", "hader:health:{aramex}:hours", "hash", "aramex"},
	{"HealthRecent", "aramex", "hader:health:{aramex}:recent", "list", "aramex"},
	{"HealthAlerts", "aramex", "hader:health:{aramex}:alerts", "stream", "aramex"},

	{"ChaosState", "", "hader:{chaos}:state", "hash", "chaos"},
	{"ChaosExperiment", "exp-42", "hader:{chaos}:exp:exp-42", "string", "chaos"},
	{"ChaosActive", "", "hader:{chaos}:active", "zset", "chaos"},
	{"ChaosStarts", "", "hader:{chaos}:starts", "zset", "chaos"},
	{"ChaosAudit", "", "hader:{chaos}:audit", "stream", "chaos"},
	{"ChaosChannel", "", "hader:chaos:changed", "", ""},
	{"ChaosImpact", "exp-42", "hader:{chaos}:impact:exp-42", "hash", "chaos"},
	{"ChaosImpact", "baseline:shopify", "hader:{chaos}:impact:baseline:shopify", "hash", "chaos"},

	{"GatewayIdempotency", "order-7:try", "hader:gateway:idem:{order-7:try}", "string", "order-7:try"},
	{"GatewayOperation", "op-00ff", "hader:gateway:op:{op-00ff}", "string", "op-00ff"},
	{"GatewayTraffic", "178000000", "hader:gateway:traffic:178000000", "hash", ""},
}

// build calls the builder c names on k.
func (c keyCase) build(t *testing.T, k Keys) string {
	t.Helper()
	m := reflect.ValueOf(k).MethodByName(c.method)
	if !m.IsValid() {
		t.Fatalf("Keys has no builder %s", c.method)
	}
	var in []reflect.Value
	if m.Type().NumIn() == 1 {
		in = append(in, reflect.ValueOf(c.arg))
	} else if c.arg != "" {
		t.Fatalf("%s takes no argument, the table gives %q", c.method, c.arg)
	}
	return m.Call(in)[0].String()
}

func (c keyCase) String() string {
	if c.arg == "" {
		return c.method + "()"
	}
	return c.method + "(" + c.arg + ")"
}

func TestKeysTableCoversEveryBuilder(t *testing.T) {
	inTable := map[string]bool{}
	for _, c := range keyCases {
		inTable[c.method] = true
	}
	str := reflect.TypeOf("")
	kt := reflect.TypeOf(Keys{})
	for i := 0; i < kt.NumMethod(); i++ {
		m := kt.Method(i)
		// A builder: (Keys[, string]) string.
		if m.Type.NumOut() != 1 || m.Type.Out(0) != str || m.Type.NumIn() > 2 ||
			(m.Type.NumIn() == 2 && m.Type.In(1) != str) {
			t.Errorf("Keys.%s is not a key builder (func([string]) string): keys.go holds only builders", m.Name)
			continue
		}
		if !inTable[m.Name] {
			t.Errorf("key builder Keys.%s has no row in keyCases", m.Name)
		}
	}
}

func TestKeyBuildersMakeTheDocumentedKeys(t *testing.T) {
	for _, c := range keyCases {
		if got := c.build(t, Keys{Namespace: "hader"}); got != c.want {
			t.Errorf("%s = %q, want %q", c, got, c.want)
		}
		// The namespace prefixes every key, whatever it is.
		ns := "staging.eu:gameday-1"
		if got, want := c.build(t, Keys{Namespace: ns}), ns+strings.TrimPrefix(c.want, "hader"); got != want {
			t.Errorf("%s in namespace %s = %q, want %q", c, ns, got, want)
		}
	}
}

func TestTypeOfNamesTheTypeOfEveryBuiltKey(t *testing.T) {
	for _, c := range keyCases {
		key := c.build(t, Keys{Namespace: "hader"})
		if got := TypeOf(key); got != c.typ {
			t.Errorf("TypeOf(%s = %q) = %q, want %q", c, key, got, c.typ)
		}
	}
}

// TestEachPartsScriptKeysShareOneClusterSlot checks the hash tags: the keys
// a multi-key script of one part takes (one breaker's, one queue's, one
// service's health, all of chaos) must hash to one Cluster slot, and the
// slot must come from the tag alone (the name, or "chaos"), whatever the
// namespace.
func TestEachPartsScriptKeysShareOneClusterSlot(t *testing.T) {
	for _, ns := range []string{"hader", "staging.eu:gameday-1"} {
		k := Keys{Namespace: ns}
		slotOfTag := map[string]uint16{}
		for _, c := range keyCases {
			key := c.build(t, k)
			if c.tag == "" {
				if strings.ContainsAny(key, "{}") {
					t.Errorf("%s = %q has a hash tag; the table says it has none", c, key)
				}
				continue
			}
			if got := hashTag(key); got != c.tag {
				t.Errorf("%s = %q: hash tag %q, want %q", c, key, got, c.tag)
			}
			slot := clusterSlot(key)
			if want := crc16([]byte(c.tag)) % 16384; slot != want {
				t.Errorf("%s = %q: slot %d, want the tag %q's slot %d", c, key, slot, c.tag, want)
			}
			if s, ok := slotOfTag[c.tag]; ok && s != slot {
				t.Errorf("%s = %q: slot %d, the other {%s} keys are in slot %d", c, key, slot, c.tag, s)
			}
			slotOfTag[c.tag] = slot
		}
	}
}

// TestClusterSlotIsRedis checks clusterSlot against the values Redis'
// cluster specification and CLUSTER KEYSLOT give.
func TestClusterSlotIsRedis(t *testing.T) {
	if got := crc16([]byte("123456789")); got != 0x31C3 {
		t.Errorf("crc16(123456789) = %#04x, want 0x31c3 (CRC16-XMODEM)", got)
	}
	for key, want := range map[string]uint16{
		"somekey":       11058,
		"foo{hash_tag}": 2515,
		"hash_tag":      2515,
		"foo{{bar}}zap": crc16([]byte("{bar")) % 16384,
		"foo{bar}{zap}": crc16([]byte("bar")) % 16384,
	} {
		if got := clusterSlot(key); got != want {
			t.Errorf("clusterSlot(%q) = %d, want %d", key, got, want)
		}
	}
	// An empty first tag: the whole key is hashed.
	if got, want := clusterSlot("foo{}{bar}"), crc16([]byte("foo{}{bar}"))%16384; got != want {
		t.Errorf("clusterSlot(foo{}{bar}) = %d, want the whole key's %d", got, want)
	}
}

// hashTag is the part of key Redis Cluster hashes when it has a tag: the
// bytes between the first '{' and the first '}' after it, if not empty.
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return ""
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return ""
	}
	return key[open+1 : open+1+end]
}

// clusterSlot is Redis Cluster's HASH_SLOT(key): CRC16 of the hash tag, or
// of the whole key without one, modulo 16384.
func clusterSlot(key string) uint16 {
	if tag := hashTag(key); tag != "" {
		return crc16([]byte(tag)) % 16384
	}
	return crc16([]byte(key)) % 16384
}

// crc16 is CRC16-XMODEM (polynomial 0x1021, initial 0), the checksum of
// Redis Cluster's key slots.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
