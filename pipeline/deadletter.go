package pipeline

import (
	"encoding/json"
	"errors"
)

func (ru *Runner) deadLetter(key string, evs []Event, code string, err error, attempts int) DeadLetter {
	payload, _ := json.Marshal(evs)
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return DeadLetter{
		Route: ru.r.Name, Vendor: ru.r.To.Vendor, Entity: ru.r.To.Entity, RecordKey: key,
		EventIDs: ids, Payload: payload, Code: code, Message: err.Error(), Attempts: attempts,
	}
}

func codeOf(err error) string {
	var pe *PermanentError
	if errors.As(err, &pe) && pe.Code != "" {
		return pe.Code
	}
	return "permanent"
}
