package evtx

import (
	"fmt"
	"strconv"
	"strings"
)

// fillEvent sets the Event fields from its XML.
func fillEvent(ev *Event) {
	root := ev.Root
	sys := root.Child("System")
	if p := sys.Child("Provider"); p != nil {
		ev.Provider = attrString(p, "Name")
		ev.ProviderGUID = attrString(p, "Guid")
		ev.EventSourceName = attrString(p, "EventSourceName")
	}
	if id := sys.Child("EventID"); id != nil {
		ev.EventID = uint16(number(id.Values))
		if q, ok := id.Attr("Qualifiers"); ok {
			ev.Qualifiers = uint16(number([]Value{q}))
		}
	}
	ev.Version = uint8(number(sys.Child("Version").values()))
	ev.Level = uint8(number(sys.Child("Level").values()))
	ev.Task = uint16(number(sys.Child("Task").values()))
	ev.Opcode = uint8(number(sys.Child("Opcode").values()))
	ev.Keywords = number(sys.Child("Keywords").values())
	if tc, ok := sys.Child("TimeCreated").Attr("SystemTime"); ok {
		ev.TimeCreated = tc.Time
	}
	if x := sys.Child("Execution"); x != nil {
		ev.ProcessID = uint32(attrNumber(x, "ProcessID"))
		ev.ThreadID = uint32(attrNumber(x, "ThreadID"))
	}
	ev.Channel = sys.Child("Channel").Text()
	ev.Computer = sys.Child("Computer").Text()
	ev.UserID = attrString(sys.Child("Security"), "UserID")

	if ed := root.Child("EventData"); ed != nil {
		i := 0
		for _, d := range ed.Children {
			name := attrString(d, "Name")
			if name == "" && d.Name == "Data" {
				// Classic (NT event log) events keep their insertion strings
				// unnamed, often as one string array: number them.
				v := contentValue(d)
				if v.Type&ArrayFlag != 0 {
					for _, e := range v.Array {
						ev.Data = append(ev.Data, Field{Name: fmt.Sprintf("Data[%d]", i), Value: e})
						i++
					}
					continue
				}
				ev.Data = append(ev.Data, Field{Name: fmt.Sprintf("Data[%d]", i), Value: v})
				i++
				continue
			}
			if name == "" {
				name = d.Name
			}
			ev.Data = append(ev.Data, Field{Name: name, Value: contentValue(d)})
		}
		// Classic events rendered without Data elements carry their text directly.
		if len(ed.Children) == 0 && len(ed.Values) > 0 {
			ev.Data = append(ev.Data, Field{Name: "Data[0]", Value: contentValue(ed)})
		}
	}
	if ud := root.Child("UserData"); ud != nil {
		for _, c := range ud.Children {
			flatten(c, "", &ev.Data)
		}
	}
}

// flatten adds the leaves below e; names of deeper leaves are joined with
// dots below the first level.
func flatten(e *Element, prefix string, out *[]Field) {
	for _, c := range e.Children {
		name := c.Name
		if prefix != "" {
			name = prefix + "." + c.Name
		}
		if len(c.Children) == 0 {
			*out = append(*out, Field{Name: name, Value: contentValue(c)})
			continue
		}
		flatten(c, name, out)
	}
}

func (e *Element) values() []Value {
	if e == nil {
		return nil
	}
	return e.Values
}

// contentValue keeps a single typed value as it is and joins mixed content
// into a string.
func contentValue(e *Element) Value {
	if len(e.Values) == 1 {
		return e.Values[0]
	}
	return Value{Type: TypeString, Str: e.Text()}
}

func attrString(e *Element, name string) string {
	v, _ := e.Attr(name)
	return v.String()
}

func attrNumber(e *Element, name string) uint64 {
	v, ok := e.Attr(name)
	if !ok {
		return 0
	}
	return number([]Value{v})
}

// number reads an integer from typed content, or from text (decimal or 0x
// hex) when a template wrote it as a string.
func number(vs []Value) uint64 {
	if len(vs) != 1 {
		if len(vs) == 0 {
			return 0
		}
		s := ""
		for _, v := range vs {
			s += v.String()
		}
		return parseNumber(s)
	}
	v := vs[0]
	switch v.Type {
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		return uint64(v.Int)
	case TypeUint8, TypeUint16, TypeUint32, TypeUint64, TypeHex32, TypeHex64, TypeSizeT, TypeBool:
		return v.Uint
	}
	return parseNumber(v.String())
}

func parseNumber(s string) uint64 {
	s = strings.TrimSpace(s)
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		n, _ := strconv.ParseUint(h, 16, 64)
		return n
	}
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}
