package bridge

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/subjects"
)

// Surveyor is implemented by protocols that answer questions about what
// every gateway holds (WAMP's wamp.session.count and list): each topic's
// function answers, for this gateway, a question another gateway asks
// with Session.Survey. The gateway subscribes them when it starts, on
// <reserved>.survey.<topic>. An answer runs on a NATS callback: it must
// be quick.
type Surveyor interface {
	Surveys() map[string]func(question []byte) []byte
}

// surveySubject is where the gateways answer a topic.
func (g *Gateway) surveySubject(topic string) string {
	return g.cfg.ReservedPrefix + ".survey." + topic
}

// answerSurveys subscribes the surveys of every protocol.
func (g *Gateway) answerSurveys() error {
	for _, p := range g.protos {
		sv, ok := p.(Surveyor)
		if !ok {
			continue
		}
		for topic, answer := range sv.Surveys() {
			subj := g.surveySubject(topic)
			if err := subjects.ValidateSubject(subj); err != nil {
				return fmt.Errorf("bridge: survey topic %q: %w", topic, err)
			}
			sub, err := g.nc.Subscribe(subj, func(m *nats.Msg) {
				if m.Reply != "" {
					_ = m.Respond(answer(m.Data))
				}
			})
			if err != nil {
				return fmt.Errorf("bridge: survey %q: %w", topic, err)
			}
			g.surveys = append(g.surveys, sub)
		}
	}
	return nil
}

// Survey asks every gateway alive (this one included, as the gateways
// bucket says: peers.go) the question on topic and returns their
// answers, as soon as each has answered or when ctx ends; complete says
// whether every one did. Without liveness (gateway.ghost_timeout
// negative, or no JetStream) only this gateway's answer is awaited.
func (s *Session) Survey(ctx context.Context, topic string, question []byte) (answers [][]byte, complete bool, err error) {
	g := s.gw
	expect := len(g.peers.Live())
	inbox := g.nc.NewRespInbox()
	ch := make(chan *nats.Msg, 64)
	sub, err := g.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, false, fmt.Errorf("survey %s: %w", topic, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := g.nc.PublishRequest(g.surveySubject(topic), inbox, question); err != nil {
		return nil, false, fmt.Errorf("survey %s: %w", topic, err)
	}
	for len(answers) < expect {
		select {
		case m := <-ch:
			answers = append(answers, m.Data)
		case <-ctx.Done():
			return answers, false, nil
		}
	}
	return answers, true, nil
}
