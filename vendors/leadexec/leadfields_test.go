package leadexec_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

func TestGetLeadFieldsReadsTheLeadTypesFields(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{LeadTypes: []leadexecsim.LeadType{
		{UID: 201, Fields: []leadexecsim.LeadField{{Name: "FirstName", Required: true, SpecialBit: "FirstName"},
			{Name: "Loan Amount", UID: 555}}},
		{UID: 202, Fields: []leadexecsim.LeadField{{Name: "Email", Kind: leadexecsim.KindEmail}}},
	}}, nil)
	ctx := context.Background()
	fs, err := f.c.GetLeadFields(ctx, 201)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].Descriptor != "FirstName" || !fs[0].Required || !fs[0].HasSpecialBit() || fs[0].LeadTypeUID != 201 ||
		fs[1].Descriptor != "Loan Amount" || fs[1].LeadFieldUID != 555 || fs[1].Required || fs[1].HasSpecialBit() ||
		fs[1].FieldDataType != leadexec.DataTypeVarchar {
		t.Fatalf("%+v", fs)
	}
	if fs, err := f.c.GetLeadFields(ctx, 999); err != nil || len(fs) != 0 {
		t.Fatalf("unknown lead type: %+v %v", fs, err)
	}
	bad := f.client(t, func(c *leadexec.Config) { c.Key = "wrong-key" })
	if _, err := bad.GetLeadFields(ctx, 201); !errors.Is(err, leadexec.ErrInvalidCredentials) || apierr.Classify(err) != apierr.Auth {
		t.Fatalf("wrong key: %v", err)
	}
}

// LeadExec documents AddEditClient as answering the client's id but also
// lists "no return properties": a new client's id is then found by its
// username, an edit keeps its own.
func TestEditClientWithoutAnIDInTheAnswer(t *testing.T) {
	result := regexp.MustCompile(`<AddEditClientResult>\d+</AddEditClientResult>`)
	f := newFixture(t, leadexecsim.Options{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("SOAPAction") == "" {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
			w.WriteHeader(rec.Code)
			w.Write(result.ReplaceAll(rec.Body.Bytes(), nil))
		})
	})
	ctx := context.Background()
	f.sim.AddClient(leadexecsim.Client{Username: "other"})
	id, err := f.c.EditClient(ctx, leadexec.ClientEdit{Info: leadexec.ClientEditInfo{Username: "buyer-9", Password: "pw-9"}})
	if err != nil {
		t.Fatal(err)
	}
	stored, ok := f.sim.ClientByUID(id)
	if !ok || stored.Username != "buyer-9" {
		t.Fatalf("id %d is not the new client: %+v", id, stored)
	}
	notes := "n"
	if got, err := f.c.EditClient(ctx, leadexec.ClientEdit{Info: leadexec.ClientEditInfo{ClientUID: id, Notes: &notes}}); err != nil || got != id {
		t.Fatalf("edit: %d %v", got, err)
	}
	if c, _ := f.sim.ClientByUID(id); c.Notes != "n" || c.Password != "pw-9" || c.Username != "buyer-9" {
		t.Fatalf("edit: %+v", c)
	}
}

func TestEditClientSOAPFaults(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	ctx := context.Background()
	f.sim.AddClient(leadexecsim.Client{Username: "taken"})
	_, err := f.c.EditClient(ctx, leadexec.ClientEdit{Info: leadexec.ClientEditInfo{Username: "TAKEN", Password: "pw"}})
	var e *leadexec.Error
	if !errors.As(err, &e) || !errors.Is(err, leadexec.ErrInvalidRequest) || e.Class() != apierr.Permanent ||
		e.Exception != "System.ArgumentException" || e.Message != "The username is already in use." {
		t.Fatalf("%#v", err)
	}
	// A namespace LeadExec does not use is a refused request, said plainly.
	other := f.client(t, func(c *leadexec.Config) { c.Namespace = "urn:elsewhere/" })
	_, err = other.EditClient(ctx, leadexec.ClientEdit{Info: leadexec.ClientEditInfo{Username: "new-1", Password: "pw"}})
	if apierr.Classify(err) != apierr.Permanent || !bytes.Contains([]byte(err.Error()), []byte("SOAPAction")) {
		t.Fatalf("%v", err)
	}
}
