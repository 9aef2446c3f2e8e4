package mqtt

// Reason codes (MQTT 5.0 section 2.4) and 3.1.1 CONNACK return codes.
const (
	rcSuccess               = 0x00
	rcGrantedQoS1           = 0x01
	rcGrantedQoS2           = 0x02
	rcDisconnectWithWill    = 0x04
	rcNoSubscriptionExisted = 0x11
	rcUnspecified           = 0x80
	rcMalformed             = 0x81
	rcProtocolError         = 0x82
	rcImplementationError   = 0x83
	rcUnsupportedVersion    = 0x84
	rcClientIDNotValid      = 0x85
	rcBadUserPassword       = 0x86
	rcNotAuthorized         = 0x87
	rcServerUnavailable     = 0x88
	rcServerShuttingDown    = 0x8B
	rcBadAuthMethod         = 0x8C
	rcKeepAliveTimeout      = 0x8D
	rcSessionTakenOver      = 0x8E
	rcTopicFilterInvalid    = 0x8F
	rcTopicNameInvalid      = 0x90
	rcPacketIDInUse         = 0x91
	rcReceiveMaxExceeded    = 0x93
	rcTopicAliasInvalid     = 0x94
	rcPacketTooLarge        = 0x95
	rcMessageRateTooHigh    = 0x96
	rcQuotaExceeded         = 0x97
	rcUseAnotherServer      = 0x9C
	rcAdministrativeAction  = 0x98
	rcRetainNotSupported    = 0x9A
	rcQoSNotSupported       = 0x9B
	rcSharedNotSupported    = 0x9E
	rcSubIDsNotSupported    = 0xA1
	rcWildcardsNotSupported = 0xA2

	// 3.1.1 CONNACK return codes (section 3.2.2.3) and SUBACK failure.
	v3Unacceptable     = 0x01
	v3IDRejected       = 0x02
	v3Unavailable      = 0x03
	v3BadUserPassword  = 0x04
	v3NotAuthorized    = 0x05
	v3SubscribeFailure = 0x80
)
