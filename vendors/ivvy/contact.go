package ivvy

import (
	"context"
	"encoding/json"
	"time"
)

// ContactInput is the body of contact?action=addOrUpdateContact, and the
// inline contact of addOrUpdateLead. A nil pointer is not sent; a pointer to
// "" clears the value. Create (ID 0) requires FirstName, LastName and Email.
type ContactInput struct {
	ID         int64   `json:"id,omitempty"`
	FirstName  *string `json:"firstName,omitempty"`
	LastName   *string `json:"lastName,omitempty"`
	Email      *string `json:"email,omitempty"`
	Phone      *string `json:"phone,omitempty"`
	ExternalID *string `json:"externalId,omitempty"`
	// UpdateIfExists, without ID, updates the contact with the same first
	// name, last name and email instead of adding another.
	UpdateIfExists bool                 `json:"updateIfExists,omitempty"`
	CustomFields   []ContactCustomField `json:"customFields,omitempty"`
}

// Contact is a contact as read from getContactList.
type Contact struct {
	ID           Int           `json:"id"`
	FirstName    string        `json:"firstName"`
	LastName     string        `json:"lastName"`
	Email        string        `json:"email"`
	Phone        string        `json:"phone"`
	ExternalID   Text          `json:"externalId"`
	CustomFields []CustomValue `json:"customFields"`
	ModifiedDate string        `json:"modifiedDate"`
}

// Modified parses ModifiedDate (UTC); the zero time when it is missing or
// malformed.
func (c Contact) Modified() time.Time { return parseOrZero(c.ModifiedDate) }

// writeResult is what add/update calls answer. Creates answer
// {"success":true,"id":N}; some updates only {"id":N}.
type writeResult struct {
	Success *bool  `json:"success"`
	ID      Int    `json:"id"`
	Message string `json:"message"`
}

// decodeWrite turns an add/update answer into the record's id. A missing
// success with an id is success (addOrUpdateCompany's update answer).
func decodeWrite(ns, action string, raw []byte) (int64, error) {
	var r writeResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return 0, &Error{Namespace: ns, Action: action, HTTPStatus: 200, Malformed: true, Message: "malformed response: " + err.Error()}
	}
	if r.Success != nil && !*r.Success {
		msg := r.Message
		if msg == "" {
			msg = "refused (success: false)"
		}
		return 0, &Error{Namespace: ns, Action: action, HTTPStatus: 200, Message: msg}
	}
	if r.ID <= 0 {
		return 0, &Error{Namespace: ns, Action: action, HTTPStatus: 200, Message: "response has no id"}
	}
	return int64(r.ID), nil
}

// AddOrUpdateContact creates (no ID) or updates a contact and returns its id.
func (c *Client) AddOrUpdateContact(ctx context.Context, in ContactInput) (int64, error) {
	return c.write(ctx, "contact", "addOrUpdateContact", in)
}

func (c *Client) write(ctx context.Context, ns, action string, in any) (int64, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return 0, &Error{Namespace: ns, Action: action, Message: "encode request: " + err.Error()}
	}
	raw, err := c.CallRaw(ctx, ns, action, body)
	if err != nil {
		return 0, err
	}
	return decodeWrite(ns, action, raw)
}

// GetContactList returns one page of contacts. Documented filters:
// fromModifiedDate, toModifiedDate, externalId, companyId, venueId,
// venueGroupId.
func (c *Client) GetContactList(ctx context.Context, q ListQuery) (Page[Contact], error) {
	return listPage[Contact](ctx, c, "contact", "getContactList", q)
}

// CustomFieldDefinition is one contact custom field definition.
type CustomFieldDefinition struct {
	FieldID     Int    `json:"fieldId"`
	FieldType   Int    `json:"fieldType"` // 0 small text … 9 large select
	DisplayName string `json:"displayName"`
	IsRequired  bool   `json:"isRequired"`
	IsActive    bool   `json:"isActive"`
}

// GetCustomFieldDefinition lists the contact custom fields.
func (c *Client) GetCustomFieldDefinition(ctx context.Context) ([]CustomFieldDefinition, error) {
	var out []CustomFieldDefinition
	err := c.Call(ctx, "contact", "getCustomFieldDefinition", nil, &out)
	return out, err
}
