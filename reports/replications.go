package reports

// Replications are the figures of independent replications of one
// simulation (stampede simulate --replications N, each with its seeds
// moved on): every headline figure as the mean and 95% confidence
// half-width across them, and per interval the same for the throughput and
// p99 the charts draw, as bands. The rest of the summary is the first
// replication's.
type Replications struct {
	N       int                `json:"n"`
	Figures []ReplicatedFigure `json:"figures"`
	// Series holds, per interval, the bands across replications: at most
	// MaxStepSeriesPoints intervals, widened past that as a step's series
	// is.
	Series []BandPoint `json:"series"`
}

// ReplicatedFigure is one headline figure across replications.
type ReplicatedFigure struct {
	Name      string  `json:"name"`
	Unit      string  `json:"unit"` // "%", "/s", "ms", "s", or "" for a count
	Mean      float64 `json:"mean"`
	HalfWidth float64 `json:"half_width"`     // 95%, Student t; 0 with one replication
	Wide      bool    `json:"wide,omitempty"` // the half-width is too wide a share of the mean to decide on
}

// BandPoint is one interval of the replications' series: each quantity's
// mean over the replications and the 95% half-width of that mean.
type BandPoint struct {
	T        float64 `json:"t_s"`      // start of the interval, seconds from the run's start
	Width    float64 `json:"width_s"`  // seconds
	Offered  Band    `json:"offered"`  // requests due per second
	Achieved Band    `json:"achieved"` // requests ended per second
	Goodput  Band    `json:"goodput"`  // successful requests per second
	// P99 is the p99 latency, ms, of the requests due in the interval
	// (the worst second's when the interval is wider than the series'),
	// over the replications that timed a request in it; zero when none
	// did.
	P99 Band `json:"p99_ms"`
}

// Band is a mean with its 95% confidence half-width, in the quantity's
// unit.
type Band struct {
	Mean      float64 `json:"mean"`
	HalfWidth float64 `json:"half_width"`
}

// NewBand rounds a mean and half-width for a summary.
func NewBand(mean, halfWidth float64) Band {
	return Band{Mean: round(mean, 1e3), HalfWidth: round(halfWidth, 1e3)}
}
