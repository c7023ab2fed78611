package ivvy

import (
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
)

// Answers shaped as iVvy (and ivvysim, which renders the documented
// shapes) sends them.
var seedAnswers = []string{
	`{"meta":{"totalResults":2,"start":0,"perPage":100,"count":2},"results":[` +
		`{"id":101,"name":"Ann Lee","description":null,"ownerUser":null,"contact":{"id":"7","firstName":"Ann","lastName":"Lee","email":"ann@example.com","phone":""},` +
		`"company":null,"qualityId":3,"quality":"Warm","stageId":"1","stageName":"New","typeId":2,"type":"Conference","subtypeId":null,` +
		`"sourceId":1,"sourceName":"Website","channelId":null,"channelName":null,"createdDate":"2026-03-01 10:00:00","modifiedDate":"2026-03-02 11:30:00 UTC",` +
		`"customFields":[{"fieldId":101,"fieldValue":"amber"},{"fieldId":"102","fieldValue":["a","b"]}]},` +
		`{"id":"102","name":"Co lead","company":{"id":5,"businessName":"Acme","businessNumber":"","phone":"","email":""}}]}`,
	`{"meta":{"totalResults":"1","start":"0","perPage":"20","count":"1"},"results":[{"id":7,"firstName":"Ann","lastName":"Lee","email":"ann@example.com","externalId":12345,"customFields":[{"fieldId":101,"value":"x","displayName":"Color"}],"modifiedDate":"2026-03-02 11:30:00"}]}`,
	`{"meta":{"totalResults":3,"start":0,"perPage":100,"count":3},"results":[{"id":1,"name":"Website","subtypes":[{"id":2,"name":"Web form"}]},{"id":3,"name":"Lost","reasons":[]},{"id":4.0,"name":"x"}]}`,
	`[{"fieldId":101,"fieldType":0,"displayName":"Favorite Color","isRequired":false,"isActive":true}]`,
	`{"success":true,"id":42}`,
	`{"id":"43"}`,
	`{"success":false,"message":"Lead not found"}`,
	`{"errorCode":400,"message":"Invalid parameters","specificCode":24216,"additionalMessages":["id: unknown"]}`,
	`{"errorCode":"401","message":"Unauthorized","specificCode":23005,"additionalMessages":[{"field":"IVVY-Date"}]}`,
	`{"asyncId":"abc123"}`,
	`{"progress":"50"}`,
	`{"asyncId":"abc123","results":[{"namespace":"contact","action":"addOrUpdateLead","request":{"id":1},"response":{"success":true,"id":9}},` +
		`{"namespace":"contact","action":"addOrUpdateLead","request":{},"response":{"errorCode":400,"message":"bad","specificCode":24216}}]}`,
	`{"ack":"2026-03-02 11:30:00"}`,
	`<html>Bad Gateway</html>`,
	`{"meta":{"totalResults":9223372036854775807,"start":9223372036854775807},"results":[{}]}`,
	`{"id":1e300}`,
}

func checkError(t *testing.T, err error) {
	t.Helper()
	testenv.RefusedAnswer[*Error](t, err)
}

// FuzzDecodeAnswer reads any body, under any status, as every kind of
// answer: it never panics, a refused or malformed answer is a *Error, and
// an accepted write answer has an id.
func FuzzDecodeAnswer(f *testing.F) {
	for _, s := range seedAnswers {
		f.Add([]byte(s), 200)
	}
	f.Add([]byte(`{"errorCode":0,"message":"x"}`), 500)
	f.Add([]byte("\xff\xfe"), 502)
	f.Fuzz(func(t *testing.T, raw []byte, status int) {
		if e := decodeError("crm", "getLeadList", status, raw); e != nil {
			checkError(t, e)
			return
		}
		if status != 200 {
			t.Fatalf("status %d accepted", status)
		}
		var leads Page[Lead]
		if err := decodeAnswer("crm", "getLeadList", raw, &leads); err != nil {
			checkError(t, err)
		} else {
			leads.Done()
			for _, l := range leads.Results {
				l.Modified()
			}
		}
		var contacts Page[Contact]
		if err := decodeAnswer("contact", "getContactList", raw, &contacts); err != nil {
			checkError(t, err)
		}
		var lookups Page[LookupItem]
		if err := decodeAnswer("crm", "getLeadSourceList", raw, &lookups); err != nil {
			checkError(t, err)
		}
		var defs []CustomFieldDefinition
		if err := decodeAnswer("contact", "getCustomFieldDefinition", raw, &defs); err != nil {
			checkError(t, err)
		}
		if id, err := decodeWrite("contact", "addOrUpdateLead", raw); err != nil {
			checkError(t, err)
		} else if id <= 0 {
			t.Fatalf("write accepted with id %d", id)
		}
		var batch struct {
			AsyncID Text        `json:"asyncId"`
			Results []JobResult `json:"results"`
		}
		if err := decodeAnswer("batch", "results", raw, &batch); err != nil {
			checkError(t, err)
			return
		}
		for _, r := range batch.Results {
			if err := r.Err(); err != nil {
				checkError(t, err)
			}
			id, err := r.IDOrErr()
			if err != nil {
				checkError(t, err)
			} else if id <= 0 || r.ID() != id {
				t.Fatalf("job %+v: id %d, ID() %d", r, id, r.ID())
			}
		}
	})
}

// FuzzParseTime: an iVvy timestamp is read or refused.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-03-02 11:30:00", "2026-03-02 11:30:00 UTC", "0000-00-00 00:00:00", " UTC", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err == nil && tm.Location() != time.UTC {
			t.Fatalf("%q read in %s", s, tm.Location())
		}
	})
}
