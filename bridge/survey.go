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

// answerSurveys subscribes the gateway's own surveys and those of every
// protocol. The gateway's own (the admin console's) are answered whether
// or not this gateway serves the console, so that a console elsewhere
// sees this gateway too.
func (g *Gateway) answerSurveys() error {
	all := []map[string]func([]byte) []byte{g.consoleSurveys()}
	for _, p := range g.protos {
		if sv, ok := p.(Surveyor); ok {
			all = append(all, sv.Surveys())
		}
	}
	for _, surveys := range all {
		for topic, answer := range surveys {
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
	return s.gw.survey(ctx, topic, question)
}

// survey is Session.Survey, for the gateway's own questions (the admin
// console's: consolesurvey.go).
func (g *Gateway) survey(ctx context.Context, topic string, question []byte) (answers [][]byte, complete bool, err error) {
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
