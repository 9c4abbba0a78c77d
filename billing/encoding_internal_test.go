package billing

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func genTime(t *rapid.T, label string) time.Time {
	if rapid.Bool().Draw(t, label+" zero") {
		return time.Time{}
	}
	sec := rapid.Int64Range(-62135596800, 253402300799).Draw(t, label+" sec") // years 1 to 9999
	nsec := rapid.Int64Range(0, 999_999_999).Draw(t, label+" nsec")
	return time.Unix(sec, nsec).UTC()
}

func genEntry(t *rapid.T) Entry {
	e := Entry{
		Seq:      rapid.Uint64().Draw(t, "seq"),
		Time:     genTime(t, "time"),
		Kind:     rapid.SampledFrom([]string{KindCredit, KindReserve, KindSettle, ""}).Draw(t, "kind"),
		Currency: rapid.StringN(0, 3, 3).Draw(t, "currency"),
		HoldID:   rapid.String().Draw(t, "hold"),
		Ref:      rapid.String().Draw(t, "ref"),
		Note:     rapid.String().Draw(t, "note"),
	}
	for range rapid.IntRange(0, 2).Draw(t, "parties") {
		e.Parties = append(e.Parties, rapid.String().Draw(t, "party"))
	}
	for range rapid.IntRange(0, 5).Draw(t, "postings") {
		e.Postings = append(e.Postings, Posting{Account: rapid.String().Draw(t, "account"),
			Amount: rapid.Int64().Draw(t, "amount")})
	}
	return e
}

func genHold(t *rapid.T) Hold {
	h := Hold{
		ID: rapid.String().Draw(t, "id"), Payer: rapid.String().Draw(t, "payer"),
		Payee: rapid.String().Draw(t, "payee"), Currency: rapid.StringN(0, 3, 3).Draw(t, "cur"),
		Amount: Amount(rapid.Int64().Draw(t, "amount")),
		Status: HoldStatus(rapid.SampledFrom([]string{"open", "settled", "voided", "expired"}).
			Draw(t, "status")),
		Created: genTime(t, "created"), Expires: genTime(t, "expires"),
		Charged: Amount(rapid.Int64().Draw(t, "charged")), Released: Amount(rapid.Int64().Draw(t, "released")),
		Fee: Amount(rapid.Int64().Draw(t, "fee")), Resolved: genTime(t, "resolved"),
		Note: rapid.String().Draw(t, "note"),
	}
	if rapid.Bool().Draw(t, "memo") {
		h.Memo = json.RawMessage(rapid.SliceOfN(rapid.Byte(), 1, 300).Draw(t, "memo bytes"))
	}
	return h
}

// Every entry and hold reads back exactly as written, and a value cut short
// anywhere is refused with an error, never a panic or a shorter record.
func TestEncodingRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := genEntry(t)
		data := marshalEntry(e)
		var got Entry
		if err := unmarshalEntry(data, &got); err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("entry %+v read back as %+v (%v)", e, got, err)
		}
		cut := rapid.IntRange(0, len(data)-1).Draw(t, "entry cut")
		if err := unmarshalEntry(data[:cut], &got); err == nil {
			t.Fatalf("entry cut to %d of %d bytes read without error", cut, len(data))
		}

		h := genHold(t)
		data = marshalHold(h)
		var gotH Hold
		if err := unmarshalHold(data, &gotH); err != nil || !reflect.DeepEqual(gotH, h) {
			t.Fatalf("hold %+v read back as %+v (%v)", h, gotH, err)
		}
		cut = rapid.IntRange(0, len(data)-1).Draw(t, "hold cut")
		if err := unmarshalHold(data[:cut], &gotH); err == nil {
			t.Fatalf("hold cut to %d of %d bytes read without error", cut, len(data))
		}
	})
}

// Values written by store formats before 4 are JSON and still read.
func TestEncodingReadsJSON(t *testing.T) {
	at := time.Date(2026, 3, 14, 12, 0, 0, 123000, time.UTC)
	e := Entry{Seq: 7, Time: at, Kind: KindReserve, Currency: "USD", HoldID: "b/r1",
		Postings: []Posting{{WalletAccount("b"), -5}, {HoldAccount("b"), 5}}}
	h := Hold{ID: "b/r1", Payer: "b", Payee: "s", Currency: "USD", Amount: 5,
		Status: HoldOpen, Created: at, Expires: at.Add(time.Hour),
		Memo: json.RawMessage(`{"marketplace_request_id":"r1"}`)}
	ej, _ := json.Marshal(e)
	hj, _ := json.Marshal(h)
	var gotE Entry
	var gotH Hold
	if err := unmarshalEntry(ej, &gotE); err != nil || !reflect.DeepEqual(gotE, e) {
		t.Errorf("JSON entry read as %+v (%v)", gotE, err)
	}
	if err := unmarshalHold(hj, &gotH); err != nil || !reflect.DeepEqual(gotH, h) {
		t.Errorf("JSON hold read as %+v (%v)", gotH, err)
	}
	for _, bad := range [][]byte{nil, {0x02, 1}, append(marshalEntry(e), 0)} {
		if err := unmarshalEntry(bad, &gotE); err == nil {
			t.Errorf("entry %x read without error", bad)
		}
	}
}
